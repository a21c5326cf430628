"""HTTP models of the campaign sweep."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class SweepIn(BaseModel):
    as_of: date | None = Field(default=None, description="the day the sweep looks from (default: today)")
    window: str = Field(default="3y", max_length=10, description="how far back: e.g. 3y, 18m, 90d")


class SweepRead(BaseModel):
    """A sweep's record: its job status and progress while it runs, its counts and duration after."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: str
    phase: str
    progress: float = Field(description="0 to 1; while screening, estimated from how far through the signal ids")
    requested_by: str
    as_of: date
    window: str
    since: date
    ruleset_version: str
    organisations: int
    certificates: int
    signals_read: int
    signals: int = Field(description="signals screened: in the window, or part of a list in force")
    hits: int
    organisations_hit: int
    events_raised: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
    seconds: float | None


class ReasonRead(BaseModel):
    factor: str
    text: str
    points: float


class RankingRead(BaseModel):
    rank: int
    organisation_id: uuid.UUID
    organisation: str
    credit_code: str | None
    province: str | None
    score: float
    band: str
    hits: int
    in_force: list[str]
    reasons: list[ReasonRead]
