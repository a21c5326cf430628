"""The outbox: nothing is published for work that rolled back; committed work is published once."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer

from services.ingest.models import messaging
from shared.contracts import Topic
from shared.db.session import Database
from shared.kafka.outbox import Outbox, OutboxRelay
from shared.kafka.producer import Producer, client_options
from tests.contract.test_contracts import EXAMPLES

pytestmark = pytest.mark.integration


class Rollback(Exception):
    pass


async def test_only_committed_events_are_published(platform, service_settings) -> None:
    db = Database(service_settings("ingest"))
    producer = Producer(platform, client_id="test")
    await producer.start()
    outbox = Outbox(messaging.outbox, "ingest")
    relay = OutboxRelay(db, producer, messaging.outbox, "ingest", 0.05)
    payload = EXAMPLES[Topic.SIGNAL_RECEIVED]
    kept, dropped = uuid.uuid4(), uuid.uuid4()
    try:
        with pytest.raises(Rollback):
            async with db.transaction() as session:
                await outbox.add(session, Topic.SIGNAL_RECEIVED, "k", payload, event_id=dropped)
                raise Rollback
        async with db.transaction() as session:
            assert await outbox.add(session, Topic.SIGNAL_RECEIVED, "k", payload, event_id=kept)
            assert not await outbox.add(session, Topic.SIGNAL_RECEIVED, "k", payload, event_id=kept)
        assert await relay.publish_pending() == 1
        assert await relay.publish_pending() == 0
    finally:
        await producer.stop()
        await db.dispose()
    consumer = AIOKafkaConsumer(
        platform.topic(Topic.SIGNAL_RECEIVED.value),
        group_id=None,
        auto_offset_reset="earliest",
        **client_options(platform),
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=3000)
    finally:
        await consumer.stop()
    values = [r.value for records in batch.values() for r in records]
    assert len(values) == 1
    assert str(kept).encode() in values[0]
