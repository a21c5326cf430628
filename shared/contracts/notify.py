"""Events published by the notify service."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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


class ResponseKind(StrEnum):
    """What an organisation did on its page (issue 15 §1)."""

    ACKNOWLEDGED = "acknowledged"  # 已知悉
    REPLIED = "replied"  # an explanation: "the product was counterfeit", "the 复检 passed"
    DISPUTED = "disputed"  # "this is not our company": the event goes back to review with the reason
    EVIDENCE_UPLOADED = "evidence_uploaded"  # corrective-action evidence, still in progress
    CORRECTIVE_ACTION_DONE = "corrective_action_done"  # done, with evidence: waits for a decision-maker to accept


class EvidenceFile(BaseModel):
    """One uploaded file, as notify's file store keeps it (checked by its content, not its name)."""

    model_config = ConfigDict(frozen=True)

    file_id: uuid.UUID
    filename: str = Field(max_length=200)
    content_type: str = Field(description="application/pdf, image/png, image/jpeg, image/gif or image/webp")
    size: int = Field(ge=1)
    sha256: str = Field(min_length=64, max_length=64)


class OrganisationResponded(BaseModel):
    """An organisation answered an alert from its signed link: rules adds it to the event's audit trail."""

    model_config = ConfigDict(frozen=True)

    response_id: uuid.UUID = Field(description="uuid5 of the link and the form's idempotency key")
    organisation_id: uuid.UUID
    organisation_name: str = Field(max_length=300)
    risk_event_id: uuid.UUID
    kind: ResponseKind
    text: str | None = Field(default=None, max_length=5000, description="the explanation or the dispute's reason")
    files: list[EvidenceFile] = Field(default_factory=list, max_length=10)
    link_id: uuid.UUID = Field(description="the signed link it came through")
    responded_at: datetime


class SelfReportProblem(StrEnum):
    """The four kinds of problem the campaign letter asks an organisation to report on its own (自查自纠)."""

    SPOT_CHECK_FAILURE = "spot_check_failure"  # a product failed a supervisory spot check
    QUALITY_ACCIDENT = "quality_accident"  # a product quality safety accident, a recall
    SERIOUS_ILLEGAL_LISTED = "serious_illegal_listed"  # listed as seriously illegal and dishonest
    LICENCE_LOST = "licence_lost"  # a licence or CCC certificate suspended, withdrawn or lapsed


class SelfReported(BaseModel):
    """A signal of kind `self_report`: an organisation reported a problem of its own. Rules screens it as any
    other signal; the organisation is known, so it matches by its id (and credit code)."""

    model_config = ConfigDict(frozen=True)

    report_id: uuid.UUID = Field(description="the signal's id: uuid5 of the link and the form's idempotency key")
    kind: Literal["self_report"] = "self_report"
    organisation_id: uuid.UUID
    organisation_name: str = Field(max_length=300)
    problem: SelfReportProblem
    description: str = Field(min_length=1, max_length=5000)
    product: str | None = Field(default=None, max_length=300)
    occurred_on: date | None = None
    risk_event_id: uuid.UUID | None = Field(default=None, description="the event whose page it came from, if any")
    link_id: uuid.UUID
    reported_at: datetime
