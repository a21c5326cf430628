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


class ClockKind(StrEnum):
    """The statutory clocks a risk event carries (README, "Review and decisions": each with its source)."""

    SHORT_NOTICE_AUDIT = "short_notice_audit"  # within 30 days of a national spot-check notice
    SUSPENSION = "suspension"  # suspend within 5 days of a confirmed non-conformity
    WITHDRAWAL = "withdrawal"  # withdraw within 5 working days
    SUSPENSION_LIMIT = "suspension_limit"  # a suspension lasts at most 6 months
    REPLY = "reply"  # the organisation's reply, by the day the decision-maker set


class ClockState(StrEnum):
    RUNNING = "running"
    MET = "met"
    MISSED = "missed"
    VOID = "void"  # made moot before it was due: the match was rejected, or a later decision came first


class ClockUnit(StrEnum):
    CALENDAR_DAYS = "calendar_days"
    WORKING_DAYS = "working_days"  # the PRC calendar with 调休 (shared/workdays.py)
    MONTHS = "months"
    SET_BY_DECISION = "set_by_decision"


class LegalBasis(BaseModel):
    model_config = ConfigDict(frozen=True)

    document: str = Field(description="e.g. 认证机构管理办法")
    article: str = Field(description="e.g. Art. 21")
    requirement: str = Field(description="what it asks, in one sentence")


class Clock(BaseModel):
    """One statutory deadline of a risk event: from when, until when, on what legal basis, and how it ended."""

    model_config = ConfigDict(frozen=True)

    clock_id: uuid.UUID
    kind: ClockKind
    basis: LegalBasis
    starts_on: date = Field(description="the day the period runs from (the notice, the confirmation, the decision)")
    length: int | None = Field(default=None, description="in `unit`; none when the decision set the day")
    unit: ClockUnit
    due_on: date
    state: ClockState = Field(description="when the event was published; see state_on")
    ended_on: date | None = None
    ended_by: str | None = Field(default=None, description="the measure or act that ended it")
    provisional: bool = Field(default=False, description="counted past the holiday table: see calendar_note")
    calendar_note: str | None = None

    def state_on(self, day: date) -> ClockState:
        return clock_state(self.state, self.ended_on, self.due_on, day)


def clock_state(state: ClockState, ended_on: date | None, due_on: date, day: date) -> ClockState:
    """An ended clock keeps its state; a running one is missed once `day` is past its due date."""
    if ended_on is not None or state is not ClockState.RUNNING:
        return state
    return ClockState.MISSED if day > due_on else ClockState.RUNNING


def next_due(clocks: list[Clock]) -> date | None:
    """The earliest due date of the clocks still running (what a reviewer must act on first)."""
    return min((c.due_on for c in clocks if c.ended_on is None and c.state is not ClockState.VOID), default=None)


class RiskEventRaisedV2(RiskEventRaised):
    """v2: the statutory clocks the event started, each with its legal basis, and when the signal was published."""

    signal_published_on: date | None = None
    clocks: list[Clock] = Field(default_factory=list)


class RiskEventUpdatedV2(RiskEventUpdated):
    """v2: every clock of the event after the change (ended ones too), and when its signal was published."""

    signal_published_on: date | None = None
    clocks: list[Clock] = Field(default_factory=list)


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
