"""Events published by the notify service."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class NotificationDelivered(BaseModel):
    model_config = ConfigDict(frozen=True)

    notification_id: uuid.UUID
    organisation_id: uuid.UUID
    risk_event_id: uuid.UUID | None = None
    channel: Channel
    recipient_masked: str
    template: str
    attempts: int
    delivered_at: datetime


class NotificationFailed(BaseModel):
    model_config = ConfigDict(frozen=True)

    notification_id: uuid.UUID
    organisation_id: uuid.UUID
    risk_event_id: uuid.UUID | None = None
    channel: Channel
    recipient_masked: str
    template: str
    attempts: int
    error: str
    failed_at: datetime
