"""A database outage longer than any retry budget: the consumer waits it out (not ready meanwhile) and
loses nothing; only messages that can never succeed go to the DLQ, at once (issue 12, item 4).

PostgreSQL here is the test session's own cluster, stopped and started as its owner with pg_ctl; the
fixture starts it again whatever happens, so later tests find it up."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from certwatch.stack.broker import start_broker
from certwatch.stack.postgres import cluster_dir, start_postgres, stop_postgres
from services.ingest.models import messaging as ingest_tables
from services.reporting import service as reporting
from services.reporting.main import create_app as reporting_app
from services.reporting.models import messaging as reporting_tables
from shared.contracts import Envelope, Topic
from shared.contracts.rules import RiskEventRaised
from shared.db.session import Database
from shared.kafka.admin import ensure_topics
from shared.kafka.consumer import Consumer
from shared.kafka.dlq import read_dlq
from shared.kafka.faults import PermanentError
from shared.kafka.outbox import Outbox, OutboxRelay
from shared.kafka.producer import Producer, client_options
from shared.observability import MESSAGES
from shared.settings import PlatformSettings
from tests.contract.test_contracts import EXAMPLES
from tests.integration.test_consumer_loop import raised_event
from tests.support.infra import TEMPLATE, Postgres, running
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 8.0  # the old budget (4 tries, 0.2 s doubling) was spent in 1.4 s


@dataclass
class Cluster:
    """The session's PostgreSQL, to stop and start again on the same port."""

    infra_dir: Path
    port: int

    async def stop(self) -> float:
        await asyncio.to_thread(stop_postgres, cluster_dir(self.infra_dir))
        return time.monotonic()

    async def start(self) -> float:
        await asyncio.to_thread(start_postgres, self.infra_dir, self.port)
        return time.monotonic()


@pytest.fixture
async def database(postgres: Postgres) -> AsyncIterator[str]:
    """As the session's fixture, but holding no connection across the test: the cluster restarts in it."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    await _admin(postgres, f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    yield name
    await _admin(postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(postgres: Postgres, sql: str) -> None:
    conn = await asyncpg.connect(postgres.admin().replace("+asyncpg", ""))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def cluster(infra_dir: Path, postgres: Postgres) -> AsyncIterator[Cluster]:
    switch = Cluster(infra_dir, postgres.port)
    try:
        yield switch
    finally:
        await switch.start()  # a no-op when it runs: never leave the session's cluster down


@dataclass
class Readiness:
    """/readyz sampled every 0.1 s: (monotonic time, status, the failed checks)."""

    client: httpx.AsyncClient
    samples: list[tuple[float, int, dict[str, str]]] = field(default_factory=list)

    async def watch(self) -> None:
        while True:
            response = await self.client.get("/readyz")
            failed = {k: v for k, v in response.json()["checks"].items() if v != "ok"}
            self.samples.append((time.monotonic(), response.status_code, failed))
            await asyncio.sleep(0.1)

    def between(self, start: float, end: float) -> list[tuple[float, int, dict[str, str]]]:
        return [s for s in self.samples if start <= s[0] <= end]


def handled(outcome: str) -> float:
    """reporting's risk-event-raised messages with this outcome so far (a process-wide counter)."""
    return MESSAGES.labels("reporting", Topic.RISK_EVENT_RAISED.value, outcome)._value.get()


async def send(platform: PlatformSettings, values: list[bytes]) -> None:
    producer = Producer(platform, client_id="test-outage")
    await producer.start()
    try:
        await producer.send_many([(Topic.RISK_EVENT_RAISED.value, f"org-{i % 7}", v) for i, v in enumerate(values)])
    finally:
        await producer.stop()


async def counted(app: FastAPI) -> int:
    """Risk events counted by reporting, read in its database (the HTTP routes' auth is not the point)."""
    async with app.state.runtime.db.sessions() as session:
        return int((await reporting.summary(session))["risk_events_raised"])  # type: ignore[call-overload]


async def test_a_database_outage_longer_than_the_retry_budget_loses_nothing_and_reports_not_ready(
    platform, service_settings, cluster
) -> None:
    settings = service_settings("reporting", consumer_backoff_seconds=0.05, consumer_backoff_max_seconds=1.0)
    app = reporting_app(settings, platform)
    before = {o: handled(o) for o in ("processed", "duplicate", "dead_lettered")}
    async with running(app) as client:
        readiness = Readiness(client)
        watcher = asyncio.create_task(readiness.watch())
        try:
            await send(platform, [raised_event() for _ in range(100)])
            await eventually(lambda: counted(app), lambda n: n == 100)

            stopped = await cluster.stop()
            await send(platform, [raised_event() for _ in range(100)])  # they arrive while the database is down
            await asyncio.sleep(max(0.0, stopped + OUTAGE_SECONDS - time.monotonic()))
            started = await cluster.start()

            await eventually(lambda: counted(app), lambda n: n == 200, timeout=60)  # the old code: 100 + a few
            through = time.monotonic()
            await eventually(lambda: client.get("/readyz"), lambda r: r.status_code == 200)
            ready = time.monotonic()
            await asyncio.sleep(1.0)  # time for a wrong second handling to show
            assert await counted(app) == 200
        finally:
            watcher.cancel()
    during = readiness.between(stopped + 0.5, started)
    assert during and all(status == 503 for _, status, _ in during), during[:3]
    assert any("consumer" in failed for _, _, failed in during)  # not only the database: the consumer says so
    assert readiness.samples[-1][1] == 200
    after = {o: handled(o) - before[o] for o in before}
    assert after == {"processed": 200, "duplicate": 0, "dead_lettered": 0}
    assert await read_dlq(platform, Topic.RISK_EVENT_RAISED.value, timeout_ms=500) == []
    print(
        f"\noutage {started - stopped:.1f} s, 100 messages in flight: lost 0, duplicated 0, dead-lettered 0; "
        f"all handled {through - started:.1f} s and ready {ready - started:.1f} s after PostgreSQL started"
    )


async def test_a_consumer_stopped_during_an_outage_commits_nothing_past_the_message_it_waits_for(
    platform, service_settings, cluster
) -> None:
    settings = service_settings("reporting", consumer_backoff_seconds=0.05, consumer_backoff_max_seconds=0.5)
    app = reporting_app(settings, platform)
    async with running(app):
        await send(platform, [raised_event() for _ in range(10)])
        await eventually(lambda: counted(app), lambda n: n == 10)
        await cluster.stop()
        await send(platform, [raised_event() for _ in range(30)])
        await eventually(_probe(lambda: app.state.runtime.consumer.stall.is_stuck), bool, timeout=10)
    # The service stopped while the database was still down; another instance of it takes over after.
    await cluster.start()
    again = reporting_app(settings, platform)
    async with running(again):
        await eventually(lambda: counted(again), lambda n: n == 40)
        await asyncio.sleep(1.0)
        assert await counted(again) == 40
    assert await read_dlq(platform, Topic.RISK_EVENT_RAISED.value, timeout_ms=500) == []


async def test_a_message_that_can_never_succeed_goes_to_the_dlq_at_once_and_the_consumer_goes_on(
    platform, service_settings
) -> None:
    # A long backoff: had the bad message been tried again, it would show in its tries and hold the good one.
    settings = service_settings("reporting", consumer_backoff_seconds=5.0, consumer_max_attempts=4)
    db = Database(settings)
    producer = Producer(platform, client_id="test")
    await producer.start()
    consumer = Consumer("reporting", platform, settings, db, reporting_tables.inbox, producer)
    attempts: dict[uuid.UUID, int] = {}
    done: list[uuid.UUID] = []
    refused, good = uuid.uuid4(), uuid.uuid4()

    @consumer.handles(Topic.RISK_EVENT_RAISED, RiskEventRaised)
    async def on_raised(event: Envelope[Any], session: AsyncSession) -> None:
        attempts[event.event_id] = attempts.get(event.event_id, 0) + 1
        if event.event_id == refused:
            raise PermanentError("names an organisation that does not exist")
        done.append(event.event_id)

    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await send(platform, [b'{"event_id": "not-a-uuid"}', raised_event(refused), raised_event(good)])

        async def handled_now() -> list[uuid.UUID]:
            return done

        await eventually(handled_now, lambda d: good in d)
    finally:
        stop.set()
        await task
        await producer.stop()
        await db.dispose()
    assert attempts[refused] == 1
    letters = await read_dlq(platform, Topic.RISK_EVENT_RAISED.value, timeout_ms=500)
    assert len(letters) == 2
    by_error = sorted(letter.headers["x-error"] for letter in letters)
    assert by_error[0].startswith("PermanentError: names an organisation") and by_error[1].startswith("undecodable")
    assert {letter.headers["x-attempts"] for letter in letters} == {"0", "1"}
    assert not consumer.stall.is_stuck


async def test_the_outbox_relay_waits_out_a_database_outage(platform, service_settings, cluster) -> None:
    settings = service_settings("ingest", consumer_backoff_max_seconds=0.5)
    db = Database(settings)
    producer = Producer(platform, client_id="test-relay")
    await producer.start()
    relay = OutboxRelay(db, producer, ingest_tables.outbox, "ingest", 0.05, 0.5)
    outbox = Outbox(ingest_tables.outbox, "ingest")
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    before, after = uuid.uuid4(), uuid.uuid4()
    try:
        await _queue(db, outbox, before)
        await cluster.stop()
        await eventually(_probe(lambda: relay.stall.is_stuck), bool, timeout=10)
        with pytest.raises(RuntimeError, match="outbox relay waiting"):
            await relay.stall.check()
        await asyncio.sleep(3.0)
        await cluster.start()
        await _queue(db, outbox, after)
        await eventually(_probe(lambda: relay.stall.is_stuck), lambda stuck: not stuck, timeout=30)
        assert not task.done()
        published = await eventually(
            lambda: _published(platform, Topic.SIGNAL_RECEIVED.value), lambda ids: {before, after} <= ids
        )
    finally:
        stop.set()
        await task
        await producer.stop()
        await db.dispose()
    assert published == {before, after}


async def test_the_outbox_relay_waits_out_a_broker_restart(service_settings, infra_dir: Path) -> None:
    folder = infra_dir / f"broker-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    broker = start_broker(folder)
    platform = PlatformSettings(
        kafka_bootstrap_servers=broker.bootstrap, kafka_enable_idempotence=False, kafka_topic_prefix="r.",
        environment="test", log_json=False,
    )  # fmt: skip
    await ensure_topics(platform, partitions=2)
    db = Database(service_settings("ingest"))
    producer = Producer(platform, client_id="test-relay", request_timeout_ms=2000)
    await producer.start()
    relay = OutboxRelay(db, producer, ingest_tables.outbox, "ingest", 0.05, 0.5)
    outbox = Outbox(ingest_tables.outbox, "ingest")
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    during, later = uuid.uuid4(), uuid.uuid4()
    try:
        await _queue(db, outbox, uuid.uuid4())
        await eventually(lambda: _pending(db), lambda n: n == 0)
        broker.stop()
        await _queue(db, outbox, during)  # committed while the broker is gone
        await eventually(_probe(lambda: relay.stall.is_stuck), bool, timeout=30)
        await asyncio.sleep(3.0)
        broker = start_broker(folder, port=broker.port)
        await ensure_topics(platform, partitions=2)  # as `certwatch kafka republish` does first
        await eventually(lambda: _pending(db), lambda n: n == 0, timeout=60)
        await eventually(_probe(lambda: relay.stall.is_stuck), lambda stuck: not stuck)
        await _queue(db, outbox, later)
        # The restarted broker kept nothing from before the outage; what was committed since is there.
        published = await eventually(
            lambda: _published(platform, Topic.SIGNAL_RECEIVED.value), lambda ids: {during, later} <= ids
        )
        assert published == {during, later} and not task.done()
    finally:
        stop.set()
        await task
        await producer.stop()
        await db.dispose()
        broker.stop()


async def _queue(db: Database, outbox: Outbox, event_id: uuid.UUID) -> None:
    async with db.transaction() as session:
        await outbox.add(session, Topic.SIGNAL_RECEIVED, "k", EXAMPLES[Topic.SIGNAL_RECEIVED], event_id=event_id)


async def _pending(db: Database) -> int:
    async with db.sessions() as session:
        query = (
            select(func.count()).select_from(ingest_tables.outbox).where(ingest_tables.outbox.c.published_at.is_(None))
        )
        return int(await session.scalar(query) or 0)


def _probe(value: Any) -> Any:
    async def probe() -> Any:
        return value()

    return probe


async def _published(platform: PlatformSettings, topic: str) -> set[uuid.UUID]:
    consumer = AIOKafkaConsumer(
        platform.topic(topic), group_id=None, auto_offset_reset="earliest", **client_options(platform)
    )
    await consumer.start()
    found: set[uuid.UUID] = set()
    try:
        while batch := await consumer.getmany(timeout_ms=3000):
            found |= {uuid.UUID(json.loads(r.value)["event_id"]) for records in batch.values() for r in records}
    finally:
        await consumer.stop()
    return found
