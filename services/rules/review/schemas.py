"""Risk-event response models."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared import workdays
from shared.contracts.rules import ClockKind, ClockState, ClockUnit, LegalBasis, Measure, clock_state


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    actor: str
    action: str
    detail: dict[str, object]
    reason: str | None
    at: datetime


class ClockRead(BaseModel):
    """A statutory deadline of the event, with its legal basis; `state` is as of today."""

    model_config = ConfigDict(from_attributes=True)

    kind: ClockKind
    basis: LegalBasis
    starts_on: date = Field(description="the day the period runs from (the notice, the confirmation, the decision)")
    length: int | None = Field(description="in `unit`; none when the decision set the day")
    unit: ClockUnit
    due_on: date
    state: ClockState
    ended_on: date | None
    ended_by: str | None = Field(description="the measure or act that ended it")
    provisional: bool = Field(description="counted past the holiday table (calendar_note says how)")
    calendar_note: str | None

    @model_validator(mode="after")
    def _as_of_today(self) -> ClockRead:
        self.state = clock_state(self.state, self.ended_on, self.due_on, workdays.today())
        return self


class MatchBrief(BaseModel):
    score: float | None = None
    decision: str | None = None
    method: str | None = None


class RiskEventSummary(BaseModel):
    """A risk event as a list shows it: what a reviewer scans a page of events by. The evidence, the match
    explanation, the clocks and the audit trail are at GET /risk-events/{id}."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organisation_id: uuid.UUID
    organisation_name: str = Field(description="as registered")
    signal_id: uuid.UUID
    signal_kind: str
    rule_id: str
    severity: str
    recommended_measure: str
    status: str
    title: str
    decision_due: date | None
    next_due: date | None = Field(default=None, description="the statutory clock still running that is due first")
    match: MatchBrief
    assigned_to: str | None
    decision: str | None
    suspended_until: date | None = None
    correction: str | None = Field(default=None, description="the state of a correcting signal, if any")
    created_at: datetime
    updated_at: datetime


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
    correction: dict[str, object] | None = Field(
        default=None,
        description="a later signal that corrects this one: state (pending | confirmed | rejected), the signal and "
        "the evidence; pending until a decision-maker confirms (closes the event) or rejects it",
    )
    clocks: list[ClockRead] = Field(default_factory=list, description="statutory deadlines, in the order they started")
    created_at: datetime
    updated_at: datetime


class RiskEventDetail(RiskEventRead):
    audit: list[AuditEntryRead] = []
    corrective_action: Literal["awaiting_acceptance", "accepted"] | None = Field(
        default=None,
        description="the organisation marked its corrective action done (its page, issue 15 §1): it waits for a "
        "decision-maker to accept it (POST /risk-events/{id}/corrective-action/accept)",
    )


# --- what the review routes take -------------------------------------------------------------------------


class MatchVerdictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["confirmed", "rejected"]
    reason: str | None = Field(default=None, max_length=2000)


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str = Field(min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=2000)


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=5000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    measure: Measure
    reason: str = Field(min_length=1, max_length=2000, description="why: it goes on the audit trail")
    corrective_action_due: date | None = Field(default=None, description="corrective_action: the deadline")
    suspended_until: date | None = Field(default=None, description="suspend: at most 6 months away")
    reply_due: date | None = Field(default=None, description="request_explanation: the organisation answers by")
    certificates: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="suspend / withdraw / restore: certificate numbers; none: every one the measure applies to",
    )


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, description="why: it goes on the audit trail")


class CorrectionVerdictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["confirmed", "rejected"]
    reason: str = Field(min_length=1, max_length=2000, description="why: it goes on the audit trail")
