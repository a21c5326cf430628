"""The outbox and the dead-letter tools (shared/kafka/outbox.py, shared/kafka/dlq.py) on real PostgreSQL and the
real broker: a set-based queueing copies payloads inside the database under the same envelope as one event at a
time; relays running side by side publish each row once; the relay wakes on a commit and ends on stop; the DLQ is
read without changing it, and replayed to its topic once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import func, select

from services.rules.access.models import ApiToken
from services.rules.db import messaging
from shared.auth import digest
from shared.contracts import Topic
from shared.contracts.rules import ApiTokenChanged
from shared.db.session import Database
from shared.kafka.dlq import read_dlq, replay_dlq
from shared.kafka.lag import group_lag
from shared.kafka.outbox import Outbox, OutboxRelay, outbox_written
from shared.kafka.producer import Producer, client_options
from shared.logging import correlation_id
from tests.support.topics import published
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

TABLE = messaging.outbox
OUTBOX = Outbox(TABLE, "rules")


def token(n: int) -> ApiTokenChanged:
    return ApiTokenChanged(
        token_id=uuid.UUID(int=n + 1),
        name=f"user-{n}",
        role="reviewer",
        token_hash=digest(f"t{n}"),
        created_by="admin",
        created_at=datetime.now(UTC),
    )


async def queue(db: Database, count: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    async with db.transaction() as session:
        for n, event_id in enumerate(ids):
            assert await OUTBOX.add(session, Topic.API_TOKEN_CHANGED, f"k{n % 3}", token(n), event_id=event_id)
        assert outbox_written(session.info)
    return ids


async def test_a_set_based_queueing_writes_the_envelope_one_at_a_time_would(service_settings) -> None:
    db = Database(service_settings("rules"))
    try:
        async with db.transaction() as session:
            for n in range(3):
                session.add(
                    ApiToken(
                        id=uuid.UUID(int=n + 1),
                        name=f"user-{n}",
                        role="reviewer",
                        token_hash=digest(f"t{n}"),
                        created_by="admin",
                    )
                )
        rows = select(
            ApiToken.id,  # the row's own id as the event's: queueing it again is a replay
            ApiToken.name,
            func.jsonb_build_object("token_id", ApiToken.id, "name", ApiToken.name),
        ).order_by(ApiToken.name)
        token_ = correlation_id.set("corr-42")
        try:
            async with db.transaction() as session:
                assert await OUTBOX.add_from(session, Topic.API_TOKEN_CHANGED, rows) == 3
                assert outbox_written(session.info)
            async with db.transaction() as session:
                assert await OUTBOX.add_from(session, Topic.API_TOKEN_CHANGED, rows) == 0  # the same ids: a replay
                assert not outbox_written(session.info)
        finally:
            correlation_id.reset(token_)
        async with db.sessions() as session:
            stored = (
                await session.execute(select(TABLE.c.event_id, TABLE.c.key, TABLE.c.envelope).order_by(TABLE.c.id))
            ).all()
        assert [(r.event_id, r.key) for r in stored] == [(uuid.UUID(int=n + 1), f"user-{n}") for n in range(3)]
        header = {k: v for k, v in stored[0].envelope.items() if k not in {"event_id", "payload", "occurred_at"}}
        assert header == {
            "event_type": Topic.API_TOKEN_CHANGED.event_type,
            "producer": "rules",
            "correlation_id": "corr-42",
            "causation_id": None,
        }
        one = OUTBOX.envelope(Topic.API_TOKEN_CHANGED, token(0), uuid.UUID(int=1))
        assert set(one) == set(stored[0].envelope)
        assert stored[0].envelope["payload"] == {"token_id": str(uuid.UUID(int=1)), "name": "user-0"}
    finally:
        await db.dispose()


async def test_relays_running_side_by_side_publish_each_row_once(platform, service_settings) -> None:
    db = Database(service_settings("rules"))
    producer = Producer(platform, client_id="test-relays")
    await producer.start()
    try:
        ids = await queue(db, 60)
        relays = [OutboxRelay(db, producer, TABLE, "rules", 0.05) for _ in range(3)]

        async def drain(relay: OutboxRelay) -> int:
            sent = 0
            while n := await relay.publish_pending(batch_size=7):
                sent += n
            return sent

        assert sum(await asyncio.gather(*(drain(r) for r in relays))) == 60
        async with db.sessions() as session:
            assert await session.scalar(select(func.count()).where(TABLE.c.published_at.is_(None))) == 0
        events = await published(platform, Topic.API_TOKEN_CHANGED, quiet_ms=1500)
        assert sorted(e["event_id"] for e in events) == sorted(map(str, ids))
    finally:
        await producer.stop()
        await db.dispose()


async def test_the_relay_publishes_what_a_commit_queued_in_order_per_key_and_ends_when_stopped(
    platform, service_settings
) -> None:
    db = Database(service_settings("rules"))
    producer = Producer(platform, client_id="test-relay-run")
    await producer.start()
    relay = OutboxRelay(db, producer, TABLE, "rules", poll_seconds=30)  # only a wake-up makes it look again soon
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.sleep(0.2)
        ids = await queue(db, 9)
        relay.wakeup.set()
        events = await eventually(
            lambda: published(platform, Topic.API_TOKEN_CHANGED, quiet_ms=300), lambda e: len(e) >= 9, 30
        )
        assert sorted(e["event_id"] for e in events) == sorted(map(str, ids))
        for key in ("k0", "k1", "k2"):  # one relay: a key's events keep the order they were queued in
            mine = [str(i) for n, i in enumerate(ids) if f"k{n % 3}" == key]
            assert [e["event_id"] for e in events if e["event_id"] in mine] == mine
        stop.set()
        await asyncio.wait_for(running, timeout=10)
    finally:
        stop.set()
        if not running.done():
            running.cancel()
        await producer.stop()
        await db.dispose()


async def test_the_dlq_is_read_without_changing_it_and_replayed_to_its_topic_once(platform) -> None:
    topic = Topic.RISK_EVENT_RAISED.value
    producer = Producer(platform, client_id="test-dlq")
    await producer.start()
    try:
        for n in range(2):
            reason = [("certwatch-error", f"ValidationError: bad payload {n}".encode()), ("certwatch-attempts", b"4")]
            await producer.send(f"{topic}.dlq", f"org-{n}", f'{{"n": {n}}}'.encode(), headers=reason)
    finally:
        await producer.stop()
    letters = sorted(await read_dlq(platform, topic, timeout_ms=1000), key=lambda d: d.key)
    assert [(d.key, d.value, d.headers) for d in letters] == [
        (
            f"org-{n}",
            f'{{"n": {n}}}'.encode(),
            {"certwatch-error": f"ValidationError: bad payload {n}", "certwatch-attempts": "4"},
        )
        for n in range(2)
    ]
    assert len(await read_dlq(platform, topic, timeout_ms=500)) == 2  # reading took nothing away

    assert await replay_dlq(platform, topic, timeout_ms=1000) == 2
    assert await replay_dlq(platform, topic, timeout_ms=500) == 0  # the replay group remembers what it sent
    back = await published(platform, Topic.RISK_EVENT_RAISED, quiet_ms=1000)
    assert sorted(back, key=lambda e: e["n"]) == [{"n": 0}, {"n": 1}]
    assert len(await read_dlq(platform, topic, timeout_ms=500)) == 2  # the dead letters stay for the record


async def test_a_groups_lag_is_what_it_has_not_committed_across_partitions(platform) -> None:
    topic = Topic.ORGANISATION_UPDATED.value
    producer = Producer(platform, client_id="test-lag")
    await producer.start()
    try:
        for n in range(6):
            await producer.send(topic, f"org-{n}", b"{}")
    finally:
        await producer.stop()
    group = f"lag-{uuid.uuid4().hex[:8]}"
    assert await group_lag(platform, group, [topic]) == 6  # a group that never committed is behind by everything
    consumer = AIOKafkaConsumer(
        platform.topic(topic),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **client_options(platform),
    )
    await consumer.start()
    try:
        read = 0
        while read < 6:
            batch = await consumer.getmany(timeout_ms=2000)
            read += sum(len(records) for records in batch.values())
        await consumer.commit()
    finally:
        await consumer.stop()
    assert await group_lag(platform, group, [topic]) == 0
    assert await group_lag(platform, group, [topic, Topic.RISK_EVENT_RAISED.value]) == 0  # an empty topic adds none
