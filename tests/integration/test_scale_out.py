"""Two replicas of the rules service share the partitions of their topics (issue 13 item 6): the same
consumer group and database, each takes its partitions, the work is split, and nothing is done twice.

The test topics have two partitions (tests/support/infra.py), so two replicas is the most that can work at
once: a consumer group gives each partition to one member, and a third member would sit idle (README,
"Scaling out"). Each replica's handler is wrapped to count what it processed (after the inbox has claimed
the message, so a count is an effect, not a delivery).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from typing import Any

import pytest

from services.rules.main import create_app
from shared.contracts import Envelope, Topic, deterministic_id
from shared.contracts.ingest import Product, SignalKind, SignalReceived, Subject
from shared.kafka.producer import Producer
from tests.integration.test_rules_matching import registry_xlsx
from tests.support.infra import ADMIN, running
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

SIGNALS = 60


def _count_handled(app: Any, replica: str, handled: Counter[str]) -> None:
    consumer = app.state.runtime.consumer
    for topic, route in list(consumer.routes.items()):
        handler = route.handler

        async def counting(envelope: Any, session: Any, _handler: Any = handler) -> Any:
            result = await _handler(envelope, session)
            handled[replica] += 1
            return result

        batch = route.batch_handler
        if batch is None:
            consumer.routes[topic] = dataclasses.replace(route, handler=counting)
            continue

        async def counting_batch(envelopes: Any, session: Any, _batch: Any = batch) -> Any:
            result = await _batch(envelopes, session)
            handled[replica] += len(envelopes)
            return result

        # A batch handler (rules' signals) gets the batch; a failed batch is handled one by one by `handler`.
        consumer.routes[topic] = dataclasses.replace(route, handler=counting, batch_handler=counting_batch)


async def _assigned(app: Any) -> int:
    kafka = app.state.runtime.consumer._kafka
    return len(kafka.assignment()) if kafka is not None else 0


async def test_two_rules_replicas_split_the_partitions_and_raise_each_event_once(platform, service_settings) -> None:
    settings = service_settings("rules")  # one consumer group, one database: two replicas of one deployment
    first, second = create_app(settings, platform), create_app(settings, platform)
    handled: Counter[str] = Counter()
    _count_handled(first, "first", handled)
    _count_handled(second, "second", handled)
    async with running(first, ADMIN) as one, running(second, ADMIN):
        report = await one.post("/organisations/import?wait=true", files={"file": ("registry.xlsx", registry_xlsx())})
        assert report.status_code == 200 and report.json()["created"] == 2, report.text

        async def assignments() -> tuple[int, int]:
            return await _assigned(first), await _assigned(second)

        # The group has settled when each replica holds one of the signal topic's partitions (and its others).
        await eventually(assignments, lambda a: a[0] > 0 and a[1] > 0)

        producer = Producer(platform, "test")
        await producer.start()
        try:
            for n in range(SIGNALS):
                payload = SignalReceived(
                    signal_id=uuid.uuid4(), feed="samr", kind=SignalKind.SPOT_CHECK_FAILURE,
                    subject=Subject(name="浙江宏远电器有限公司"), product=Product(name=f"充电器 批次{n}"),
                )  # fmt: skip
                envelope = Envelope[SignalReceived](
                    event_id=deterministic_id("signal-received", payload.signal_id),
                    event_type=Topic.SIGNAL_RECEIVED.event_type, producer="ingest", payload=payload,
                )  # fmt: skip
                # Keys spread over both partitions (a bulletin's rows carry different keys).
                await producer.send(
                    Topic.SIGNAL_RECEIVED.value, str(payload.signal_id), envelope.model_dump_json().encode()
                )
        finally:
            await producer.stop()

        async def raised() -> list[dict[str, Any]]:
            return (await one.get("/risk-events", params={"limit": 500})).json()

        events = await eventually(raised, lambda e: len(e) >= SIGNALS)
        assert len(events) == SIGNALS
        assert len({e["signal_id"] for e in events}) == SIGNALS  # one event per signal: nothing raised twice
        assert handled["first"] > 0 and handled["second"] > 0, handled  # the work was split
        assert sum(handled.values()) == SIGNALS, handled  # and nothing was processed twice
