"""Per-key transaction locks (PostgreSQL advisory locks) for work that consumers do side by side: partitions
handled at once (`consumer_concurrency`) and replicas. Two transactions that hold a key's lock in turn see each
other's writes; the locks of a batch are taken in one order (sorted), so two batches cannot deadlock."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from enum import IntEnum

from sqlalchemy import ARRAY, Integer, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession


class LockSpace(IntEnum):
    """The first key of the two-key form, one per kind of lock (ingest's feed locks use the one-key form)."""

    SCREENING = 13  # rules: an organisation's screening (escalation counts, corrections)
    ORGANISATION_ALERTS = 14  # notify: an organisation's contacts and the alerts waiting for them


_LOCK = text("SELECT pg_advisory_xact_lock(:space, k) FROM unnest(CAST(:keys AS integer[])) AS k").bindparams(
    bindparam("space", type_=Integer), bindparam("keys", type_=ARRAY(Integer))
)


def lock_key(key: uuid.UUID) -> int:
    """A uuid's 32-bit lock key (its first four bytes): two uuids may share one, which only makes them wait."""
    return int.from_bytes(key.bytes[:4], "big", signed=True)


async def hold(session: AsyncSession, space: LockSpace, keys: Iterable[uuid.UUID]) -> None:
    """Hold the locks of `keys` in `space` until the transaction ends (waiting for whoever holds one)."""
    sorted_keys = sorted({lock_key(key) for key in keys})
    if sorted_keys:
        await session.execute(_LOCK, {"space": int(space), "keys": sorted_keys})
