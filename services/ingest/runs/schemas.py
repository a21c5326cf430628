"""HTTP models of feed runs."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class FeedRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    run_id: uuid.UUID
    feed: str
    kind: str
    source: str | None
    status: str
    started_at: datetime
    finished_at: datetime | None
    read: int
    accepted: int
    rejected: int
    duplicates: int
    published: int
    skipped_passing: int = 0
    error: str | None


class RejectedRowRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    row_number: int | None
    reason: str
    raw: str | None
    source: str | None


class RunResult(BaseModel):
    run_id: uuid.UUID
    feed: str
    kind: str
    status: str
    read: int
    accepted: int
    rejected: int
    duplicates: int
    published: int
    skipped_passing: int = 0
    error: str | None
    dry_run: bool
    resumed: bool
    rejections: list[dict[str, object]]
