"""The accept stage of a feed run: keep each raw record, stage its signal unreleased, keep each rejected
row with its reason. The caller holds the transaction; nothing here commits or publishes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.feeds.base import ParsedRecord, RowRejected
from services.ingest.runs import repository
from services.ingest.runs.config import FeedConfig

RAW_CHARS = 4000  # of a rejected row's raw content, kept to show why


@dataclass(frozen=True)
class Staged:
    """What staging a batch found: signals new to this run, and signals some other run had staged."""

    accepted: int
    duplicates: int


async def stage(session: AsyncSession, feed: FeedConfig, run_id: uuid.UUID, batch: Sequence[ParsedRecord]) -> Staged:
    """Keep the raw records and stage the signals, unreleased; count what was new. A signal this same run
    staged before it was interrupted counts as accepted again, not as a duplicate."""
    if not batch:
        return Staged(0, 0)
    rows = signal_rows(feed, run_id, batch)
    await repository.keep_raw_many(session, raw_rows(feed, run_id, batch))
    new = await repository.stage_signals(session, rows)
    existing = [r.signal.signal_id for r in batch if r.signal.signal_id not in new]
    mine = await repository.staged_by(session, existing, run_id) if existing else set()
    return Staged(len(new) + len(mine), len(existing) - len(mine))


async def reject(session: AsyncSession, feed: FeedConfig, run_id: uuid.UUID, rows: Sequence[RowRejected]) -> None:
    """Keep the rejected rows, each with its reason and raw content."""
    await repository.reject_many(session, rejected_rows(feed, run_id, rows))


def raw_rows(feed: FeedConfig, run_id: uuid.UUID, batch: Sequence[ParsedRecord]) -> list[dict[str, object]]:
    """The raw records of a batch, one per content hash (the same record twice in a file is kept once)."""
    rows = {
        r.content_hash: {
            "content_hash": r.content_hash,
            "feed": feed.name,
            "kind": feed.kind,
            "content": r.raw,
            "run_id": run_id,
        }
        for r in batch
    }
    return list(rows.values())


def signal_rows(feed: FeedConfig, run_id: uuid.UUID, batch: Sequence[ParsedRecord]) -> list[dict[str, object]]:
    """The signals of a batch as staged: unreleased, keyed for Kafka, payload as published."""
    return [
        {
            "signal_id": r.signal.signal_id,
            "feed": feed.name,
            "kind": r.signal.kind.value,
            "subject_key": r.signal.subject_key[:300],
            "payload": r.signal.model_dump(mode="json"),
            "raw_record_ref": r.content_hash,
            "run_id": run_id,
            "released": False,
        }
        for r in batch
    ]


def rejected_rows(feed: FeedConfig, run_id: uuid.UUID, rows: Sequence[RowRejected]) -> list[dict[str, object]]:
    return [
        {
            "run_id": run_id,
            "feed": feed.name,
            "source": feed.url,
            "row_number": r.row,
            "reason": r.reason,
            "raw": r.raw[:RAW_CHARS],
        }
        for r in rows
    ]
