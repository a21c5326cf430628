"""The consumer loop on the real broker and PostgreSQL: dedupe, bounded retries, DLQ, keep going."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.main import create_app as reporting_app
from services.reporting.models import messaging as reporting_tables
from shared.contracts import Envelope, Topic
from shared.contracts.rules import RiskEventRaised
from shared.db.session import Database
from shared.kafka.consumer import Consumer
from shared.kafka.dlq import read_dlq
from shared.kafka.producer import Producer
from shared.settings import PlatformSettings
from tests.contract.test_contracts import EXAMPLES
from tests.support.infra import as_role, running
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def raised_event(event_id: uuid.UUID | None = None) -> bytes:
    payload = EXAMPLES[Topic.RISK_EVENT_RAISED].model_copy(update={"risk_event_id": uuid.uuid4()})
    envelope = Envelope[RiskEventRaised](
        event_id=event_id or uuid.uuid4(),
        event_type=Topic.RISK_EVENT_RAISED.event_type,
        producer="rules",
        payload=payload,
    )
    return envelope.model_dump_json().encode()


async def send(platform: PlatformSettings, topic: str, *values: bytes) -> None:
    producer = Producer(platform, client_id="test")
    await producer.start()
    try:
        for value in values:
            await producer.send(topic, "org-1", value)
    finally:
        await producer.stop()


async def test_poison_messages_go_to_the_dlq_and_the_consumer_keeps_going(platform, service_settings) -> None:
    app = reporting_app(service_settings("reporting"), platform)
    async with running(app, as_role("regulator")) as client:
        await send(
            platform,
            Topic.RISK_EVENT_RAISED.value,
            b"\xff not json at all",
            b'{"event_id": "not-a-uuid", "payload": {}}',
            raised_event(),
        )
        summary = await eventually(lambda: _summary(client), lambda s: s["risk_events_raised"] == 1)
        assert summary["risk_events_raised"] == 1
    letters = await eventually(
        lambda: read_dlq(platform, Topic.RISK_EVENT_RAISED.value, timeout_ms=500), lambda ls: len(ls) == 2
    )
    assert {letter.headers["x-original-topic"] for letter in letters} == {Topic.RISK_EVENT_RAISED.value}
    assert all(letter.headers["x-error"].startswith("undecodable message") for letter in letters)
    assert letters[0].value == b"\xff not json at all" or letters[1].value == b"\xff not json at all"


async def test_a_redelivered_event_is_processed_once(platform, service_settings) -> None:
    app = reporting_app(service_settings("reporting"), platform)
    event_id = uuid.uuid4()
    message = raised_event(event_id)
    async with running(app, as_role("regulator")) as client:
        await send(platform, Topic.RISK_EVENT_RAISED.value, message, message, raised_event())
        await eventually(lambda: _summary(client), lambda s: s["risk_events_raised"] == 2)
        await asyncio.sleep(0.5)  # give a wrongly-processed duplicate the chance to show up
        assert (await _summary(client))["risk_events_raised"] == 2


async def test_a_failing_handler_is_retried_then_dead_lettered_and_the_next_message_is_handled(
    platform, service_settings
) -> None:
    settings = service_settings("reporting", consumer_max_attempts=3)
    db = Database(settings)
    producer = Producer(platform, client_id="test")
    await producer.start()
    consumer = Consumer("reporting", platform, settings, db, reporting_tables.inbox, producer)
    attempts: dict[str, int] = {}
    handled: list[str] = []
    bad = uuid.uuid4()

    @consumer.handles(Topic.RISK_EVENT_RAISED, RiskEventRaised)
    async def on_raised(event: Envelope[Any], session: AsyncSession) -> None:
        attempts[str(event.event_id)] = attempts.get(str(event.event_id), 0) + 1
        if event.event_id == bad:
            raise RuntimeError("downstream is broken for this one")
        handled.append(str(event.event_id))

    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    good = uuid.uuid4()
    try:
        await send(platform, Topic.RISK_EVENT_RAISED.value, raised_event(bad), raised_event(good))

        async def handled_now() -> list[str]:
            return handled

        await eventually(handled_now, lambda h: str(good) in h)
    finally:
        stop.set()
        await task
        await producer.stop()
        await db.dispose()
    assert attempts[str(bad)] == 3
    letters = await read_dlq(platform, Topic.RISK_EVENT_RAISED.value, timeout_ms=500)
    assert len(letters) == 1
    assert letters[0].headers["x-attempts"] == "3"
    assert "downstream is broken" in letters[0].headers["x-error"]


async def _summary(client) -> dict[str, Any]:
    response = await client.get("/summary")
    assert response.status_code == 200
    return response.json()
