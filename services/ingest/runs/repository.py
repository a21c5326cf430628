"""Queries of feed runs: run rows, staged signals, rejected rows and per-feed state."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, Uuid, cast, column, delete, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.models import FeedRun, FeedState, RawRecord, RejectedRow, SignalRecord


async def unfinished_run(session: AsyncSession, feed: str) -> FeedRun | None:
    stmt = select(FeedRun).where(FeedRun.feed == feed, FeedRun.status == "running").order_by(FeedRun.started_at)
    return (await session.scalars(stmt)).first()


async def discard_staged(session: AsyncSession, run_id: uuid.UUID) -> None:
    """Drop what a run staged but never released: it was never published, so nothing is lost."""
    await session.execute(delete(SignalRecord).where(SignalRecord.run_id == run_id, SignalRecord.released.is_(False)))
    await session.execute(delete(RejectedRow).where(RejectedRow.run_id == run_id))


async def state(session: AsyncSession, feed: str) -> FeedState | None:
    return await session.get(FeedState, feed)


async def keep_raw_many(session: AsyncSession, rows: Sequence[dict[str, object]]) -> None:
    if rows:
        await session.execute(insert(RawRecord).on_conflict_do_nothing(index_elements=["content_hash"]), rows)


async def stage_signals(session: AsyncSession, rows: Sequence[dict[str, object]]) -> set[uuid.UUID]:
    """Insert signals not seen before (unreleased); returns the ids that were new."""
    if not rows:
        return set()
    # Parameters apart from the statement: SQLAlchemy batches them ("insertmanyvalues") instead of
    # compiling one statement with a thousand VALUES tuples.
    stmt = insert(SignalRecord).on_conflict_do_nothing(index_elements=["signal_id"]).returning(SignalRecord.signal_id)
    result = await session.execute(stmt, list(rows))
    return set(result.scalars().all())


async def staged_by(session: AsyncSession, ids: Sequence[uuid.UUID], run_id: uuid.UUID) -> set[uuid.UUID]:
    """Of these existing signals, the ones this same run staged before it was interrupted."""
    stmt = select(SignalRecord.signal_id).where(SignalRecord.signal_id.in_(ids), SignalRecord.run_id == run_id)
    return set((await session.scalars(stmt)).all())


async def unreleased(session: AsyncSession, run_id: uuid.UUID, limit: int) -> list[uuid.UUID]:
    stmt = (
        select(SignalRecord.signal_id)
        .where(SignalRecord.run_id == run_id, SignalRecord.released.is_(False))
        .order_by(SignalRecord.signal_id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


def release_rows(
    signal_ids: Sequence[uuid.UUID], event_ids: Sequence[uuid.UUID]
) -> Select[tuple[uuid.UUID, str, dict[str, object]]]:
    """(event_id, key, payload) of these stored signals, for the outbox to queue without a round trip."""
    batch = (
        func.unnest(cast(signal_ids, ARRAY(Uuid)), cast(event_ids, ARRAY(Uuid)))
        .table_valued(column("signal_id", Uuid), column("event_id", Uuid))
        .render_derived(name="batch")
    )
    return select(batch.c.event_id, SignalRecord.subject_key, SignalRecord.payload).join(
        SignalRecord, SignalRecord.signal_id == batch.c.signal_id
    )


async def mark_released(session: AsyncSession, ids: Sequence[uuid.UUID]) -> None:
    await session.execute(update(SignalRecord).where(SignalRecord.signal_id.in_(ids)).values(released=True))


async def reject_many(session: AsyncSession, rows: Sequence[dict[str, object]]) -> None:
    if rows:
        await session.execute(insert(RejectedRow), rows)


async def last_started(session: AsyncSession) -> dict[str, datetime]:
    rows = await session.execute(select(FeedRun.feed, func.max(FeedRun.started_at)).group_by(FeedRun.feed))
    return {feed: started for feed, started in rows.all()}


async def runs(session: AsyncSession, feed: str | None, limit: int) -> list[FeedRun]:
    stmt = select(FeedRun).order_by(FeedRun.started_at.desc()).limit(limit)
    if feed:
        stmt = stmt.where(FeedRun.feed == feed)
    return list((await session.scalars(stmt)).all())


async def rejected(session: AsyncSession, run_id: uuid.UUID, limit: int) -> list[RejectedRow]:
    stmt = select(RejectedRow).where(RejectedRow.run_id == run_id).order_by(RejectedRow.row_number).limit(limit)
    return list((await session.scalars(stmt)).all())
