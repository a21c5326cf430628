"""Every query of ingest."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Text, func, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.models import RawRecord, SignalRecord
from shared.contracts.ingest import SignalV2
from shared.db.results import affected


async def keep_raw(session: AsyncSession, content_hash: str, feed: str, kind: str, content: dict[str, object]) -> None:
    stmt = insert(RawRecord).values(content_hash=content_hash, feed=feed, kind=kind, content=content)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["content_hash"]))


async def add_signal(session: AsyncSession, signal: SignalV2) -> bool:
    """Insert the signal; False when a signal with this id exists (an exact re-delivery)."""
    stmt = insert(SignalRecord).values(
        signal_id=signal.signal_id,
        feed=signal.feed,
        kind=signal.kind.value,
        subject_key=signal.subject_key[:300],
        payload=signal.model_dump(mode="json"),
        raw_record_ref=signal.raw_record_ref,
    )
    result = await session.execute(stmt.on_conflict_do_nothing(index_elements=["signal_id"]))
    return bool(affected(result))


async def get_signal(session: AsyncSession, signal_id: uuid.UUID) -> SignalRecord | None:
    return await session.get(SignalRecord, signal_id)


async def list_signals(
    session: AsyncSession, limit: int, offset: int, since: datetime | None = None
) -> list[SignalRecord]:
    stmt = select(SignalRecord)
    if since is None:
        stmt = stmt.order_by(SignalRecord.received_at.desc(), SignalRecord.signal_id)
    else:  # a replay: what was published (a run's staged signals are not, until it ends), oldest first
        stmt = stmt.where(SignalRecord.received_at >= since, SignalRecord.released)
        stmt = stmt.order_by(SignalRecord.received_at, SignalRecord.signal_id)
    return list((await session.scalars(stmt.limit(limit).offset(offset))).all())


async def signals_after(session: AsyncSession, since: datetime, after: uuid.UUID, limit: int) -> bytes:
    """A campaign sweep's page: the published signals received since `since`, in id order after `after` (keyset
    paging: no offset to rescan), as one JSON array PostgreSQL builds from the stored payloads (a sweep reads
    millions: decoding and encoding each here cost more than the rest of the sweep)."""
    page = (
        select(SignalRecord.signal_id, SignalRecord.payload)
        .where(SignalRecord.received_at >= since, SignalRecord.released, SignalRecord.signal_id > after)
        .order_by(SignalRecord.signal_id)
        .limit(limit)
        .subquery()
    )
    payloads = func.json_agg(aggregate_order_by(page.c.payload, page.c.signal_id))
    return str(await session.scalar(select(func.coalesce(payloads, text("'[]'::json")).cast(Text)))).encode()
