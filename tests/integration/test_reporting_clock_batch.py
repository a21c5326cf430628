"""reporting keeps the statutory clocks of a batch of v2 events set-based (read once, written once per batch):
the same clocks and timeliness tallies as one event after another, with a clock updated twice in one batch, an
ended clock never made running again, and a replayed message counted once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting import consumers as reporting_consumers
from services.reporting.models import ClockView, DailyTally
from services.reporting.models import messaging as reporting_tables
from shared.contracts import Envelope, Topic
from shared.contracts.rules import (
    Clock,
    ClockKind,
    ClockState,
    ClockUnit,
    LegalBasis,
    RiskEventRaisedV2,
    RiskEventStatus,
    RiskEventUpdatedV2,
    Severity,
)
from shared.db.session import Database
from shared.kafka.consumer import Consumer
from shared.kafka.producer import Producer
from shared.observability import MESSAGES
from shared.settings import PlatformSettings
from tests.support.events import risk_event_raised
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

TODAY = date(2026, 11, 2)
PUBLISHED = date(2026, 10, 28)


def _clock(kind: ClockKind, due: date) -> Clock:
    return Clock(clock_id=uuid.uuid4(), kind=kind, basis=LegalBasis(document="认证机构管理办法", article="Art. 21",
                 requirement="r"), starts_on=due - timedelta(days=30), unit=ClockUnit.CALENDAR_DAYS, due_on=due,
                 state=ClockState.RUNNING)  # fmt: skip


def _ended(clock: Clock, state: ClockState, on: date | None) -> Clock:
    return clock.model_copy(update={"state": state, "ended_on": on})


def _update(event: RiskEventRaisedV2, *clocks: Clock) -> RiskEventUpdatedV2:
    return RiskEventUpdatedV2(
        risk_event_id=event.risk_event_id, organisation_id=event.organisation_id, status=RiskEventStatus.IN_REVIEW,
        severity=Severity.HIGH, change="assigned", actor="dm", updated_at=datetime.now(UTC), clocks=list(clocks),
        signal_published_on=PUBLISHED,
    )  # fmt: skip


def _story() -> list[tuple[Topic, list[Any]]]:
    """Batches as the consumer takes them (one topic each). A: two clocks, both updated twice in one batch (the
    second update cannot change the clock the first ended), and the first update again (a replay under another
    event id). B: its update (ended) comes before its raised event (running): the ended clock stays ended."""
    audit, suspension = _clock(ClockKind.SHORT_NOTICE_AUDIT, TODAY), _clock(ClockKind.SUSPENSION, TODAY)
    a = risk_event_raised("甲", clocks=[audit, suspension], signal_published_on=PUBLISHED)
    first = _update(a, _ended(audit, ClockState.MET, TODAY - timedelta(days=2)), suspension)
    second = _update(a, _ended(audit, ClockState.MISSED, TODAY + timedelta(days=1)),
                     _ended(suspension, ClockState.MET, TODAY))  # fmt: skip
    withdrawal = _clock(ClockKind.WITHDRAWAL, TODAY + timedelta(days=5))
    b = risk_event_raised("乙", clocks=[withdrawal], signal_published_on=None)
    b_ended = _update(b, _ended(withdrawal, ClockState.MET, TODAY + timedelta(days=3)))
    return [
        (Topic.RISK_EVENT_UPDATED_V2, [b_ended]),
        (Topic.RISK_EVENT_RAISED_V2, [a, b, risk_event_raised("丙", clocks=[])]),
        (Topic.RISK_EVENT_UPDATED_V2, [first, second, first]),
    ]


def _envelope(topic: Topic, payload: Any) -> Envelope[Any]:
    model: Any = Envelope[type(payload)]  # type: ignore[misc]
    return model(event_id=uuid.uuid4(), event_type=topic.event_type, producer="rules", payload=payload)


async def _read(session: AsyncSession) -> dict[str, list[tuple[Any, ...]]]:
    clocks = select(ClockView.clock_id, ClockView.kind, ClockView.state, ClockView.ended_on, ClockView.due_on,
                    ClockView.signal_published_on)  # fmt: skip
    daily = select(DailyTally.day, DailyTally.metric, DailyTally.dimension, DailyTally.value).where(
        DailyTally.value != 0
    )
    return {name: sorted((tuple(r) for r in (await session.execute(stmt)).all()), key=str)
            for name, stmt in (("clocks", clocks), ("daily", daily))}  # fmt: skip


def _consumer(db: Database, settings: Any, platform: PlatformSettings, producer: Any = None) -> Consumer:
    consumer = Consumer("reporting", platform, settings, db, reporting_tables.inbox, producer)
    runtime: Any = type("Runtime", (), {"consumer": consumer})()
    reporting_consumers.register(runtime)
    return consumer


async def test_a_batch_of_clocks_comes_out_as_one_event_after_another(service_settings) -> None:
    """The story once through the per-event projection, once through the batch handlers, rolled back between."""
    db = Database(service_settings("reporting"))
    consumer = _consumer(db, service_settings("reporting"), PlatformSettings())
    projections = {topic.value: project for topic, _, project in reporting_consumers.PROJECTIONS}
    story = _story()
    try:
        async with db.sessions() as session:
            results: list[dict[str, list[tuple[Any, ...]]]] = []
            for per_event in (True, False):
                transaction = await session.begin()
                for topic, payloads in story:
                    if per_event:
                        for payload in payloads:
                            await projections[topic.value](session, payload)
                    else:
                        handler = consumer.routes[topic.value].batch_handler
                        assert handler is not None
                        await handler([_envelope(topic, p) for p in payloads], session)
                results.append(await _read(session))
                await transaction.rollback()
        one_by_one, batched = results
        assert batched == one_by_one
        states = {kind: (state, ended) for _, kind, state, ended, _, _ in batched["clocks"]}
        assert states == {
            "short_notice_audit": ("met", TODAY - timedelta(days=2)),  # the second update could not change it
            "suspension": ("met", TODAY),
            "withdrawal": ("met", TODAY + timedelta(days=3)),  # ended before it was raised: stays ended
        }
        daily = {(metric, dimension): value for _, metric, dimension, value in batched["daily"]}
        assert daily[("clock_due", "short_notice_audit")] == 1 and daily[("clock_met", "short_notice_audit")] == 1
        assert ("clock_missed", "short_notice_audit") not in daily
        assert daily[("clock_due", "withdrawal")] == 1 and daily[("clock_met", "withdrawal")] == 1  # counted once
        # days from the notice (28 Oct) to the end: the audit on 31 Oct, the suspension on 2 Nov
        assert daily[("decision_days", "3")] == 1 and daily[("decision_days", "5")] == 1
    finally:
        await db.dispose()


async def test_replayed_v2_messages_are_counted_once(platform, service_settings) -> None:
    """Through the real consumer on the broker: the story's messages, then all of them again as after a crash
    before the offset commit (a group that committed nothing, the same database): nothing changes."""
    settings = service_settings("reporting")
    messages = [(topic, _envelope(topic, p)) for topic, payloads in _story() for p in payloads]
    producer = Producer(platform, client_id="test-clock-batch")
    await producer.start()
    try:
        await producer.send_many(
            [(t.value, str(e.payload.organisation_id), e.model_dump_json().encode()) for t, e in messages]
        )
    finally:
        await producer.stop()
    seen: list[dict[str, list[tuple[Any, ...]]]] = []
    for group in (settings, service_settings("reporting", database_url=settings.database_url)):
        db = Database(group)
        dlq = Producer(platform, client_id="test-clock-batch-dlq")
        await dlq.start()
        consumer = _consumer(db, group, platform, dlq)
        before = _handled()
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        try:
            await eventually(_value(lambda b=before: _handled() - b), lambda n: n >= len(messages), timeout=60)
            async with db.sessions() as session:
                seen.append(await _read(session))
        finally:
            stop.set()
            await task
            await dlq.stop()
            await db.dispose()
    first, again = seen
    assert len(first["clocks"]) == 3 and first["daily"]
    assert again == first


def _handled() -> float:
    return sum(
        MESSAGES.labels("reporting", topic.value, outcome)._value.get()
        for topic in (Topic.RISK_EVENT_RAISED_V2, Topic.RISK_EVENT_UPDATED_V2)
        for outcome in ("processed", "duplicate")
    )


def _value(compute: Any) -> Any:
    async def read() -> Any:
        return compute()

    return read
