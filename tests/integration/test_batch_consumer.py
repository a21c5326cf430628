"""The consumer in batches (issue 13): one inbox insert, one transaction and one offset commit per partition
batch; a poison record still goes to the DLQ alone; a redelivered batch changes nothing; offsets move only
after the database commit; reporting's batch handlers write what the per-record projections write."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting import consumers as reporting_consumers
from services.reporting import repository
from services.reporting.main import create_app as reporting_app
from services.reporting.models import DailyTally, NotificationView, RiskEventView, ScreenedOrganisation, Tally
from services.reporting.models import messaging as reporting_tables
from shared.contracts import Envelope, Topic
from shared.contracts.notify import NotificationDelivered
from shared.contracts.rules import OrganisationUpdated, RiskEventRaised
from shared.db.session import Database
from shared.kafka.admin import ensure_topics
from shared.kafka.consumer import Consumer
from shared.kafka.dlq import read_dlq
from shared.kafka.outbox import Outbox, outbox_written
from shared.kafka.producer import Producer, client_options
from shared.observability import MESSAGES
from shared.runtime import ServiceRuntime
from shared.settings import PlatformSettings
from tests.contract.test_contracts import EXAMPLES
from tests.integration.test_consumer_loop import raised_event
from tests.support.events import risk_event_raised
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

KEY = "one-partition"  # every message on the same partition, so they come in one batch


async def send(platform: PlatformSettings, values: list[bytes]) -> None:
    producer = Producer(platform, client_id="test-batch")
    await producer.start()
    try:
        await producer.send_many([(Topic.RISK_EVENT_RAISED.value, KEY, v) for v in values])
    finally:
        await producer.stop()


class Harness:
    """A bare consumer on reporting's inbox whose handler bumps a tally per event (its only effect)."""

    def __init__(self, platform: PlatformSettings, settings: Any) -> None:
        self.platform, self.settings = platform, settings
        self.db = Database(settings)
        self.producer = Producer(platform, client_id="test")
        self.consumer = Consumer("reporting", platform, settings, self.db, reporting_tables.inbox, self.producer)
        self.calls: Counter[uuid.UUID] = Counter()
        self.sessions: Counter[int] = Counter()  # handler calls per session: > 1 when a batch shared one
        self.fail: set[uuid.UUID] = set()

        @self.consumer.handles(Topic.RISK_EVENT_RAISED, RiskEventRaised)
        async def on_raised(event: Envelope[Any], session: AsyncSession) -> None:
            self.calls[event.event_id] += 1
            self.sessions[id(session)] += 1
            await repository.bump(session, "test-effect", str(event.event_id))
            if event.event_id in self.fail:
                raise RuntimeError("downstream is broken for this one")

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Harness]:
        await self.producer.start()
        stop = asyncio.Event()
        task = asyncio.create_task(self.consumer.run(stop))
        try:
            yield self
        finally:
            stop.set()
            await task
            await self.producer.stop()

    async def effects(self) -> dict[str, int]:
        async with self.db.sessions() as session:
            rows = await session.execute(select(Tally.dimension, Tally.value).where(Tally.metric == "test-effect"))
            return {dimension: value for dimension, value in rows.all()}

    async def committed(self) -> int:
        """The group's committed offsets, summed over the topic's partitions (-1 for none)."""
        kafka = AIOKafkaConsumer(
            group_id=self.settings.consumer_group, enable_auto_commit=False, **client_options(self.platform)
        )
        await kafka.start()
        try:
            topic = self.platform.topic(Topic.RISK_EVENT_RAISED.value)
            parts = kafka.partitions_for_topic(topic) or {0, 1}
            offsets = [await kafka.committed(TopicPartition(topic, p)) for p in parts]
            return sum(o for o in offsets if o is not None) if any(o is not None for o in offsets) else -1
        finally:
            await kafka.stop()


def counted(outcome: str) -> float:
    return MESSAGES.labels("reporting", Topic.RISK_EVENT_RAISED.value, outcome)._value.get()


async def test_a_poison_record_in_a_batch_is_dead_lettered_alone_and_the_others_are_handled_once(
    platform, service_settings
) -> None:
    harness = Harness(platform, service_settings("reporting", consumer_max_attempts=3))
    ids = [uuid.uuid4() for _ in range(30)]
    poison = ids[12]
    harness.fail.add(poison)
    # Sent before the consumer starts: the broker hands them over in one batch.
    await send(platform, [raised_event(i) for i in ids[:20]] + [b"\xff not json"] + [raised_event(i) for i in ids[20:]])
    async with harness.running():
        await eventually(harness.effects, lambda e: len(e) == 29)
        await eventually(harness.committed, lambda n: n == 31)
    assert max(harness.sessions.values()) > 1  # a batch was tried in one transaction
    effects = await harness.effects()
    assert str(poison) not in effects
    assert effects == {str(i): 1 for i in ids if i != poison}  # each once, though the failed batch ran them
    assert harness.calls[poison] == 3  # the batch's try counts: 3 in all, as one at a time
    letters = await read_dlq(platform, Topic.RISK_EVENT_RAISED.value, timeout_ms=500)
    assert sorted(letter.headers["x-attempts"] for letter in letters) == ["0", "3"]
    poisoned = next(letter for letter in letters if letter.headers["x-attempts"] == "3")
    assert str(poison).encode() in poisoned.value and "downstream is broken" in poisoned.headers["x-error"]
    assert not harness.consumer.stall.is_stuck
    await harness.db.dispose()


async def test_a_redelivered_batch_has_no_second_effect(platform, service_settings) -> None:
    settings = service_settings("reporting")
    first = Harness(platform, settings)
    ids = [uuid.uuid4() for _ in range(40)]
    messages = [raised_event(i) for i in ids]
    await send(platform, messages + messages[:5])  # five of them twice in the same batch
    async with first.running():
        await eventually(first.committed, lambda n: n == 45)
    assert await first.effects() == {str(i): 1 for i in ids}
    assert max(first.sessions.values()) > 1
    # The same batch delivered again, as after a crash between the commit and the offset commit: a consumer
    # group that has committed nothing reads the partition from the start, into the same database.
    duplicates = counted("duplicate")
    again = Harness(platform, service_settings("reporting", database_url=settings.database_url))
    async with again.running():
        await eventually(lambda: _value(lambda: counted("duplicate") - duplicates), lambda n: n >= 45)
        await eventually(again.committed, lambda n: n == 45)
    assert not again.calls  # no handler ran: every id was claimed before
    assert await first.effects() == {str(i): 1 for i in ids}
    await first.db.dispose()
    await again.db.dispose()


async def test_offsets_are_committed_only_after_the_database_commit(platform, service_settings, monkeypatch) -> None:
    harness = Harness(platform, service_settings("reporting"))
    ids = [uuid.uuid4() for _ in range(25)]
    await send(platform, [raised_event(i) for i in ids])
    steps: list[tuple[str, int]] = []  # ("db", events committed so far) and ("offsets", the offset committed)
    handled = 0
    transaction = harness.db.transaction

    @asynccontextmanager
    async def watched() -> AsyncIterator[AsyncSession]:
        async with transaction() as session:
            yield session
        steps.append(("db", sum(harness.calls.values())))

    original_commit = AIOKafkaConsumer.commit

    async def commit(self: AIOKafkaConsumer, offsets: Any = None) -> None:
        await original_commit(self, offsets)
        steps.append(("offsets", sum(o if isinstance(o, int) else o.offset for o in (offsets or {}).values())))

    monkeypatch.setattr(harness.db, "transaction", watched)
    monkeypatch.setattr(AIOKafkaConsumer, "commit", commit)
    release = asyncio.Event()

    @harness.consumer.handles(Topic.RISK_EVENT_RAISED, RiskEventRaised)
    async def slow(event: Envelope[Any], session: AsyncSession) -> None:
        nonlocal handled
        await release.wait()  # the transaction is open: nothing may be committed to the broker yet
        harness.calls[event.event_id] += 1
        handled += 1
        await repository.bump(session, "test-effect", str(event.event_id))

    async with harness.running():
        await asyncio.sleep(3.0)
        assert await harness.committed() == -1 and not [s for s in steps if s[0] == "offsets"]
        release.set()
        await eventually(harness.committed, lambda n: n == 25)
    assert await harness.effects() == {str(i): 1 for i in ids}
    offsets = [(n, i) for i, (what, n) in enumerate(steps) if what == "offsets"]
    assert offsets
    for offset, at in offsets:  # every offset committed had its records' transaction committed before it
        assert max(n for what, n in steps[:at] if what == "db") >= offset
    assert len([s for s in steps if s[0] == "db"]) < 25  # in batches, not one transaction per record
    await harness.db.dispose()


async def _value(compute: Any) -> Any:
    return compute()


def _envelope(topic: Topic, payload: Any) -> Envelope[Any]:
    model: Any = Envelope[type(payload)]  # type: ignore[misc]
    return model(event_id=uuid.uuid4(), event_type=topic.event_type, producer="test", payload=payload)


async def _read_models(session: AsyncSession) -> dict[str, list[tuple[Any, ...]]]:
    tables = {
        "tallies": select(Tally.metric, Tally.dimension, Tally.value),
        "daily": select(DailyTally.day, DailyTally.metric, DailyTally.dimension, DailyTally.value),
        "events": select(RiskEventView.risk_event_id, RiskEventView.signal_kind, RiskEventView.title),
        "screened": select(ScreenedOrganisation.organisation_id, ScreenedOrganisation.certificate_count),
        "notifications": select(
            NotificationView.notification_id, NotificationView.outcome, NotificationView.attempts,
            NotificationView.recipient_masked,
        ),
    }  # fmt: skip
    return {
        name: sorted((tuple(r) for r in (await session.execute(stmt)).all()), key=str) for name, stmt in tables.items()
    }


async def test_reporting_batch_handlers_write_what_the_projections_write_one_at_a_time(service_settings) -> None:
    """Each topic's batch, once through the per-event projections (the code before batches) and once through
    the batch handler, in the same database, rolled back in between: the read models come out the same."""
    db = Database(service_settings("reporting"))
    org = uuid.uuid4()
    raised = [risk_event_raised(f"事件{n}", province=["浙江", None][n % 2]) for n in range(8)]
    notification = EXAMPLES[Topic.NOTIFICATION_DELIVERED]
    assert isinstance(notification, NotificationDelivered)
    batches: list[tuple[Topic, list[Any]]] = [
        (Topic.RISK_EVENT_RAISED, [*raised, raised[2], raised[5]]),  # two redelivered under other event ids
        (Topic.ORGANISATION_UPDATED, [
            OrganisationUpdated(organisation_id=org, name="甲", certificate_count=2, updated_at=raised[0].raised_at),
            OrganisationUpdated(organisation_id=uuid.uuid4(), name="乙", certificate_count=1,
                                updated_at=raised[0].raised_at),
            OrganisationUpdated(organisation_id=org, name="甲", certificate_count=5, updated_at=raised[0].raised_at),
        ]),
        (Topic.NOTIFICATION_DELIVERED, [
            notification.model_copy(update={"notification_id": uuid.uuid4()}),
            notification,
            notification.model_copy(update={"attempts": 2, "recipient_masked": "b***@example.com"}),
        ]),
    ]  # fmt: skip
    consumer = Consumer("reporting", PlatformSettings(), service_settings("reporting"), db, reporting_tables.inbox,
                        None)  # type: ignore[arg-type]  # fmt: skip
    runtime: Any = type("Runtime", (), {"consumer": consumer})()
    reporting_consumers.register(runtime)
    projections = {topic.value: project for topic, _, project in reporting_consumers.PROJECTIONS}
    try:
        async with db.sessions() as session:
            one_at_a_time: dict[str, list[tuple[Any, ...]]] = {}
            batched: dict[str, list[tuple[Any, ...]]] = {}
            for results, per_event in ((one_at_a_time, True), (batched, False)):
                transaction = await session.begin()
                for topic, payloads in batches:
                    if per_event:
                        for payload in payloads:
                            await projections[topic.value](session, payload)
                    else:
                        batch_handler = consumer.routes[topic.value].batch_handler
                        assert batch_handler is not None
                        await batch_handler([_envelope(topic, p) for p in payloads], session)
                results.update(await _read_models(session))
                await transaction.rollback()
        assert batched == one_at_a_time
        assert len(batched["events"]) == 8 and ("risk_events", "all", 8) in batched["tallies"]
        assert (org, 5) in batched["screened"]
    finally:
        await db.dispose()


async def test_the_relay_is_woken_only_by_a_commit_that_queued_events(platform, service_settings) -> None:
    settings = service_settings("reporting")
    runtime = ServiceRuntime("reporting", settings, platform, reporting_tables)
    outbox = Outbox(reporting_tables.outbox, "reporting")
    try:
        async with runtime.db.transaction() as session:
            await repository.bump(session, "test-effect")
            nothing = dict(session.info)
        assert not outbox_written(nothing)
        runtime.consumer._committed(nothing)
        assert not runtime.relay.wakeup.is_set()

        async with runtime.db.transaction() as session:
            assert await outbox.add(session, Topic.RISK_EVENT_RAISED, "k", EXAMPLES[Topic.RISK_EVENT_RAISED],
                                    event_id=uuid.uuid4())  # fmt: skip
            queued = dict(session.info)
        assert outbox_written(queued)
        runtime.consumer._committed(queued)
        assert runtime.relay.wakeup.is_set()
    finally:
        await runtime.db.dispose()


async def test_reporting_counts_a_burst_in_batches(platform, service_settings) -> None:
    """The whole service: 300 events in a burst are counted once each, through batches."""
    from tests.support.infra import running

    app = reporting_app(service_settings("reporting"), platform)
    await send(platform, [raised_event() for _ in range(300)])
    async with running(app):

        async def raised_count() -> int:
            async with app.state.runtime.db.sessions() as session:
                return int(await session.scalar(select(Tally.value).where(Tally.metric == "risk_events")) or 0)

        await eventually(raised_count, lambda n: n == 300)
        await asyncio.sleep(0.5)
        assert await raised_count() == 300


async def test_partitions_batches_are_handled_side_by_side_each_in_its_order(platform, service_settings) -> None:
    """Two partitions' batches from one fetch run at once (`consumer_concurrency`), each in its own transaction, and
    each partition's records are handled in offset order; every effect once, every offset committed."""
    await ensure_topics(platform, partitions=2)
    harness = Harness(platform, service_settings("reporting", consumer_concurrency=2))
    sent = {p: [uuid.uuid4() for _ in range(12)] for p in (0, 1)}
    kafka = AIOKafkaProducer(**client_options(platform))
    await kafka.start()
    try:
        for partition, ids in sent.items():
            for event_id in ids:
                await kafka.send(
                    platform.topic(Topic.RISK_EVENT_RAISED.value), raised_event(event_id), partition=partition
                )
        await kafka.flush()
    finally:
        await kafka.stop()
    handled: list[uuid.UUID] = []
    inside, most = 0, 0

    @harness.consumer.handles(Topic.RISK_EVENT_RAISED, RiskEventRaised)
    async def slow(event: Envelope[Any], session: AsyncSession) -> None:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        try:
            await asyncio.sleep(0.05)  # a round trip: the other partition's batch goes on meanwhile
            handled.append(event.event_id)
            await repository.bump(session, "test-effect", str(event.event_id))
        finally:
            inside -= 1

    async with harness.running():
        await eventually(harness.committed, lambda n: n == 24)
    assert most == 2  # both partitions' handlers were running at the same time
    for ids in sent.values():  # each partition's records in its order
        assert [i for i in handled if i in ids] == ids
    assert await harness.effects() == {str(i): 1 for ids in sent.values() for i in ids}
    await harness.db.dispose()
