"""Events published by the rules service."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.ingest import SignalKind


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Measure(StrEnum):
    """What a certification body can do (the notice's measures)."""

    NO_ACTION = "no_action"
    REQUEST_EXPLANATION = "request_explanation"
    CORRECTIVE_ACTION = "corrective_action"
    SPECIAL_AUDIT = "special_audit"
    SUSPEND = "suspend"
    WITHDRAW = "withdraw"
    RESTORE = "restore"
    CLOSE = "close"


class RiskEventStatus(StrEnum):
    OPEN = "open"
    IN_REVIEW = "in_review"
    DECIDED = "decided"
    CLOSED = "closed"


class CertificateStatus(StrEnum):
    VALID = "valid"  # 有效
    SUSPENDED = "suspended"  # 暂停
    WITHDRAWN = "withdrawn"  # 撤销
    CANCELLED = "cancelled"  # 注销
    EXPIRED = "expired"  # 过期


class MatchDecision(StrEnum):
    MATCH = "match"
    REVIEW = "review"
    NONE = "none"


class MatchEvidence(BaseModel):
    """One piece of evidence in a match explanation."""

    model_config = ConfigDict(frozen=True)

    field: str
    how: str
    weight: float = 0.0
    signal_value: str | None = None
    registry_value: str | None = None


class MatchSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    score: float = Field(ge=0.0, le=1.0)
    decision: MatchDecision
    method: str
    explanation: str
    evidence: list[MatchEvidence] = Field(default_factory=list)
    product_in_scope: bool | None = None


class CertificateRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    certificate_id: uuid.UUID
    number: str
    type: str
    status: CertificateStatus


class RiskEventRaised(BaseModel):
    """A signal matched a certified organisation and a rule raised a risk event."""

    model_config = ConfigDict(frozen=True)

    risk_event_id: uuid.UUID
    organisation_id: uuid.UUID
    organisation_name: str
    signal_id: uuid.UUID
    signal_kind: SignalKind
    rule_id: str
    rule_version: int
    severity: Severity
    recommended_measure: Measure
    title: str
    summary: str
    decision_due: date | None = None
    province: str | None = None
    certificates: list[CertificateRef] = Field(default_factory=list)
    match: MatchSummary
    raised_at: datetime


class RiskEventUpdated(BaseModel):
    """A risk event changed status, was assigned or decided."""

    model_config = ConfigDict(frozen=True)

    risk_event_id: uuid.UUID
    organisation_id: uuid.UUID
    status: RiskEventStatus
    severity: Severity
    change: str = Field(description="assigned | commented | decided | closed | downgraded | reopened")
    decision: Measure | None = None
    corrective_action_due: date | None = None
    actor: str | None = None
    reason: str | None = None
    updated_at: datetime


class CertificateStatusChanged(BaseModel):
    """A recorded human decision changed a certificate's status."""

    model_config = ConfigDict(frozen=True)

    certificate_id: uuid.UUID
    organisation_id: uuid.UUID
    number: str
    type: str
    old_status: CertificateStatus
    new_status: CertificateStatus
    effective_on: date
    until: date | None = None
    reason: str
    risk_event_id: uuid.UUID | None = None
    decided_by: str


class Contact(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str | None = None
    email: str | None = None
    mobile: str | None = None
    language: str = "zh-CN"
    channels: list[str] = Field(default_factory=lambda: ["email", "sms"])


class OrganisationUpdated(BaseModel):
    """An organisation in the registry was created or changed (full current state)."""

    model_config = ConfigDict(frozen=True)

    organisation_id: uuid.UUID
    name: str
    former_names: list[str] = Field(default_factory=list)
    credit_code: str | None = None
    province: str | None = None
    city: str | None = None
    contacts: list[Contact] = Field(default_factory=list)
    certificate_count: int = 0
    certificate_types: list[str] = Field(default_factory=list)
    revision: int = 1
    updated_at: datetime


class ApiTokenChanged(BaseModel):
    """A token was made or revoked (rules owns the tokens; every service keeps a copy and checks it).
    Only the token's SHA-256 travels: the token itself is shown once, to whoever made it."""

    token_id: uuid.UUID
    name: str = Field(max_length=100, description="the person or system the audit trails name")
    role: str = Field(max_length=30, description="reviewer | decision_maker | administrator | regulator | feed")
    token_hash: str = Field(min_length=64, max_length=64, description="hex SHA-256 of the token")
    created_by: str = Field(max_length=100)
    created_at: datetime
    revoked_at: datetime | None = None
