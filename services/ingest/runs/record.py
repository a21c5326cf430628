"""The record stage of a feed run: its row (begun, resumed, ended), the `FeedRunCompleted` event queued
with its end, and the feed's state for the next run (validators, snapshot). The caller holds the
transaction; nothing here commits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.models import FeedRun, FeedState
from services.ingest.runs import repository
from services.ingest.runs.config import FeedConfig
from services.ingest.runs.schemas import RunResult
from shared.contracts import Topic, deterministic_id
from shared.contracts.ingest import FeedRunCompleted, FeedRunStatus
from shared.kafka.outbox import Outbox

SUPERSEDED = "superseded by a newer file"
COUNTS = {"read", "accepted", "rejected", "duplicates", "published", "skipped_passing"}
ENDED = {"status", "finished_at", "error", *COUNTS}  # what a run's end writes on its row


def result(
    feed: FeedConfig, run_id: uuid.UUID, started: datetime, *, dry_run: bool = False, resumed: bool = False
) -> RunResult:
    """A run as it starts: running, nothing counted yet."""
    return RunResult(
        run_id=run_id,
        feed=feed.name,
        kind=feed.kind,
        source=feed.url,
        status="running",
        started_at=started,
        finished_at=None,
        read=0,
        accepted=0,
        rejected=0,
        duplicates=0,
        published=0,
        skipped_passing=0,
        error=None,
        dry_run=dry_run,
        resumed=resumed,
        rejections=[],
    )


def new_run(run: RunResult, sha256: str | None = None) -> FeedRun:
    """The row of a run as it starts."""
    counts = run.model_dump(include=COUNTS)
    return FeedRun(
        run_id=run.run_id,
        feed=run.feed,
        kind=run.kind,
        source=run.source,
        status="running",
        started_at=run.started_at,
        source_sha256=sha256,
        **counts,
    )


async def begin(session: AsyncSession, feed: FeedConfig, sha256: str, started: datetime) -> RunResult:
    """Resume the interrupted run of this same file, or abandon an interrupted run of another file (what it
    staged is dropped: never published) and start afresh."""
    stale = await repository.unfinished_run(session, feed.name)
    if stale is not None and stale.source_sha256 == sha256:
        return result(feed, stale.run_id, stale.started_at, resumed=True)
    if stale is not None:
        await repository.discard_staged(session, stale.run_id)
        stale.status, stale.finished_at, stale.error = "abandoned", started, SUPERSEDED
    run = result(feed, uuid.uuid4(), started)
    session.add(new_run(run, sha256))
    return run


def completed(run: RunResult) -> FeedRunCompleted:
    """The event a run's end puts on the wire: the run's own fields, those the contract carries."""
    return FeedRunCompleted.model_validate(run.model_dump(include=set(FeedRunCompleted.model_fields)))


async def finish(session: AsyncSession, outbox: Outbox, run: RunResult) -> None:
    """End the run's row as `run` says, and queue its FeedRunCompleted in the same transaction."""
    row = await session.get(FeedRun, run.run_id)
    if row is None:
        raise LookupError(f"no feed run {run.run_id} to finish")
    run.started_at, run.finished_at = row.started_at, datetime.now(UTC)
    for name, value in run.model_dump(include=ENDED).items():
        setattr(row, name, value)
    event = completed(run)
    await outbox.add(
        session, Topic.FEED_RUN_COMPLETED, run.feed, event, event_id=deterministic_id("feed-run", run.run_id)
    )


async def succeed(session: AsyncSession, outbox: Outbox, run: RunResult, snapshot: bytes | None) -> None:
    """End a run that read its file: partial if it rejected rows. A snapshot feed keeps its new snapshot."""
    run.status = (FeedRunStatus.PARTIAL if run.rejected else FeedRunStatus.SUCCEEDED).value
    await finish(session, outbox, run)
    if snapshot is not None:
        (await state(session, run.feed)).snapshot = snapshot


async def fail(session: AsyncSession, outbox: Outbox, run: RunResult, reason: str) -> None:
    """End a run whose file failed as a whole: what it staged is dropped, nothing from it is published."""
    run.status, run.error = FeedRunStatus.FAILED.value, reason
    run.accepted = run.duplicates = run.published = run.skipped_passing = 0
    await repository.discard_staged(session, run.run_id)
    await finish(session, outbox, run)


async def not_modified(session: AsyncSession, outbox: Outbox, run: RunResult) -> None:
    """Record a run that found the feed unchanged since the last (HTTP 304)."""
    run.status = FeedRunStatus.NOT_MODIFIED.value
    session.add(new_run(run))
    await session.flush()
    await finish(session, outbox, run)


async def validators(session: AsyncSession, feed: str) -> tuple[str | None, str | None]:
    """The ETag and Last-Modified the last run of the feed got, for a conditional request."""
    found = await repository.state(session, feed)
    return (found.etag, found.last_modified) if found else (None, None)


async def previous_snapshot(session: AsyncSession, feed: FeedConfig) -> bytes | None:
    """What a snapshot feed's next file is diffed against; None for any other feed."""
    if not feed.snapshot:
        return None
    found = await repository.state(session, feed.name)
    return found.snapshot if found else None


async def remember(session: AsyncSession, feed: str, etag: str | None, modified: str | None, sha256: str) -> None:
    """Keep what the next run's conditional request needs, and the file's hash."""
    found = await state(session, feed)
    found.etag, found.last_modified, found.last_sha256 = etag, modified, sha256
    found.updated_at = datetime.now(UTC)


async def state(session: AsyncSession, feed: str) -> FeedState:
    """The feed's state row, made if it has none yet."""
    found = await repository.state(session, feed)
    if found is None:
        found = FeedState(feed=feed)
        session.add(found)
        await session.flush()
    return found
