"""shared.db.locks on real PostgreSQL: a key held by one transaction makes another that wants it wait until the
first commits; a batch's keys are taken sorted, so batches asking in opposite orders never deadlock; lock spaces
are apart; an empty key set takes nothing."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.locks import LockSpace, hold, lock_key
from shared.db.session import Database

pytestmark = pytest.mark.integration

WAITING = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = :space AND objid = :key"
)
MINE = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")


def as_oid(key: int) -> int:
    """pg_locks shows the two-key form's keys as unsigned oids."""
    return key & 0xFFFFFFFF


async def someone_waits(db: Database, space: LockSpace, key: uuid.UUID, waiters: int = 1) -> None:
    """Return once `waiters` transactions wait for `key` in `space` (fail after 10 s: they never started waiting)."""
    params = {"space": as_oid(int(space)), "key": as_oid(lock_key(key))}
    for _ in range(200):
        async with db.sessions() as session:
            if (await session.scalar(WAITING, params) or 0) >= waiters:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {waiters} transaction(s) waited for the lock")


def test_uuids_sharing_their_first_four_bytes_share_a_key() -> None:
    a = uuid.UUID("12345678-0000-0000-0000-000000000001")
    b = uuid.UUID("12345678-ffff-ffff-ffff-ffffffffffff")
    assert lock_key(a) == lock_key(b) == 0x12345678
    assert lock_key(uuid.UUID("ffffffff-0000-0000-0000-000000000000")) == -1  # signed, fits an integer column


async def test_an_overlapping_key_waits_until_the_holder_commits(service_settings) -> None:
    db = Database(service_settings("rules"))
    shared_key, only_first, only_second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    order: list[str] = []

    async def second() -> None:
        async with db.transaction() as session:
            await hold(session, LockSpace.SCREENING, [only_second, shared_key])
            order.append("second holds")

    try:
        async with db.transaction() as first:
            await hold(first, LockSpace.SCREENING, [shared_key, only_first])
            waiter = asyncio.create_task(second())
            await someone_waits(db, LockSpace.SCREENING, shared_key)
            assert not waiter.done()
            order.append("first commits")
        await asyncio.wait_for(waiter, 10)
        assert order == ["first commits", "second holds"]
    finally:
        await db.dispose()


async def test_batches_asking_in_opposite_orders_take_the_keys_sorted_and_both_finish(service_settings) -> None:
    db = Database(service_settings("rules"))
    space = LockSpace.ORGANISATION_ALERTS
    low, high = sorted((uuid.uuid4(), uuid.uuid4()), key=lock_key)
    assert lock_key(low) != lock_key(high)
    held = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = :space AND objid = :key"
    )

    async def batch(keys: list[uuid.UUID]) -> list[uuid.UUID]:
        async with db.transaction() as session:
            await hold(session, space, keys)
            return keys

    try:
        async with db.transaction() as blocker:
            await hold(blocker, space, [low])
            # One batch asks {low, high}, the other {high, low}. Taken as given, the second would hold `high` while
            # waiting for `low`; once the blocker commits, the first would get `low` and wait for `high`: deadlock.
            batches = [asyncio.create_task(batch([low, high])), asyncio.create_task(batch([high, low]))]
            await someone_waits(db, space, low, waiters=2)
            async with db.sessions() as session:  # both wait on the lower key, so neither holds the higher one
                assert await session.scalar(held, {"space": as_oid(int(space)), "key": as_oid(lock_key(high))}) == 0
        assert await asyncio.wait_for(asyncio.gather(*batches), 10) == [[low, high], [high, low]]
    finally:
        await db.dispose()


async def test_lock_spaces_do_not_block_each_other(service_settings) -> None:
    db = Database(service_settings("rules"))
    key = uuid.uuid4()

    async def other_space() -> str:
        async with db.transaction() as session:
            await hold(session, LockSpace.ORGANISATION_ALERTS, [key])
            return "held"

    try:
        async with db.transaction() as first:
            await hold(first, LockSpace.SCREENING, [key])
            assert await asyncio.wait_for(other_space(), 10) == "held"  # while the first still holds its lock
    finally:
        await db.dispose()


async def test_an_empty_key_set_takes_no_lock(service_settings) -> None:
    db = Database(service_settings("rules"))
    try:
        session: AsyncSession
        async with db.transaction() as session:
            await hold(session, LockSpace.SCREENING, [])
            assert await session.scalar(MINE) == 0
            await hold(session, LockSpace.SCREENING, [uuid.uuid4(), uuid.uuid4()])
            assert await session.scalar(MINE) == 2  # the same query sees locks when there are some
    finally:
        await db.dispose()
