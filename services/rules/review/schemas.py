"""Risk-event response models."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    actor: str
    action: str
    detail: dict[str, object]
    reason: str | None
    at: datetime


class RiskEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organisation_id: uuid.UUID
    signal_id: uuid.UUID
    signal_kind: str
    rule_id: str
    rule_version: int
    severity: str
    recommended_measure: str
    status: str
    title: str
    summary: str
    decision_due: date | None
    match: dict[str, object]
    signal: dict[str, object]
    assigned_to: str | None
    decision: str | None
    suspended_until: date | None = None
    created_at: datetime
    updated_at: datetime


class RiskEventDetail(RiskEventRead):
    audit: list[AuditEntryRead] = []
