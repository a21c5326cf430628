"""HTTP models of feed runs: one read schema (`FeedRunRead`), and what a run just made answers with it."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class FeedRunRead(BaseModel):
    """A feed run as stored: when, how it ended and what it counted. What went on the wire when it ended
    is `FeedRunCompleted` (shared/contracts/ingest.py), these same fields less `source` and `skipped_passing`."""

    model_config = ConfigDict(from_attributes=True)

    run_id: uuid.UUID
    feed: str
    kind: str
    source: str | None
    status: str  # FeedRunStatus, or running / abandoned while no run has ended
    started_at: datetime
    finished_at: datetime | None
    read: int
    accepted: int
    rejected: int
    duplicates: int
    published: int
    skipped_passing: int = 0
    error: str | None


class ShownRejection(BaseModel):
    """A rejected row as a run's result lists it (GET /feed-runs/{id}/rejected has them all, with the raw row)."""

    row: int | None
    reason: str


class RunResult(FeedRunRead):
    """The run just made (POST /feeds/{name}/runs, POST /files): the run, whether it was a dry run or
    resumed an interrupted one, and the first rejected rows."""

    dry_run: bool
    resumed: bool
    rejections: list[ShownRejection]


class RejectedRowRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    row_number: int | None
    reason: str
    raw: str | None
    source: str | None
