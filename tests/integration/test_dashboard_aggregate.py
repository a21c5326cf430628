"""The dashboard reads its figures from the daily aggregate the consumer keeps (`daily_tallies`), never from the
risk events or clocks themselves (issue 16 §2: fast with 1M events). These tests project a random mix of events
and clocks (raised, updated, ended, voided, in batches and one by one, in either order of the v2 topics) and
check that what the aggregate says equals what the rows say: each statutory clock's timeliness for periods in
the past, around today and ahead; the events past their deadline; and that the aggregate the consumer kept is the
one REBUILD_DAILY_TALLIES (and so migrations 0005 and 0006) rebuild from the rows."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from services.reporting import dashboard, repository, service
from services.reporting.models import DailyTally
from shared.contracts.rules import (
    Clock,
    ClockKind,
    ClockState,
    ClockUnit,
    LegalBasis,
    Measure,
    RiskEventRaisedV2,
    RiskEventStatus,
    RiskEventUpdatedV2,
    Severity,
)
from shared.db.session import Database
from tests.support.events import risk_event_raised

pytestmark = pytest.mark.integration

KINDS = [ClockKind.SHORT_NOTICE_AUDIT, ClockKind.SUSPENSION, ClockKind.WITHDRAWAL]


def _clock(rng: random.Random, today: date) -> Clock:
    due = today + timedelta(days=rng.randint(-40, 20))
    state = rng.choice([ClockState.RUNNING, ClockState.RUNNING, ClockState.MET, ClockState.MISSED, ClockState.VOID])
    ended = None if state in (ClockState.RUNNING, ClockState.VOID) else due + timedelta(days=rng.randint(-9, 5))
    kind = rng.choice(KINDS)
    return Clock(clock_id=uuid.uuid4(), kind=kind, basis=LegalBasis(document="认证机构管理办法", article=f"第{kind.value}条",
                 requirement="r"), starts_on=due - timedelta(days=30), unit=ClockUnit.CALENDAR_DAYS, due_on=due,
                 state=state, ended_on=ended)  # fmt: skip


def _ended(clock: Clock, rng: random.Random) -> Clock:
    """The same clock later: a running one met or missed, or voided."""
    if clock.state is not ClockState.RUNNING:
        return clock
    state = rng.choice([ClockState.MET, ClockState.MISSED, ClockState.VOID])
    ended = None if state is ClockState.VOID else clock.due_on + timedelta(days=rng.randint(-5, 5))
    return clock.model_copy(update={"state": state, "ended_on": ended})


async def _project(db: Database, today: date, seed: int, count: int = 120) -> None:
    rng = random.Random(seed)
    events: list[tuple[RiskEventRaisedV2, list[RiskEventUpdatedV2]]] = []
    for i in range(count):
        raised_at = datetime.now(UTC) - timedelta(days=rng.randint(0, 60))
        published = (raised_at - timedelta(days=rng.randint(0, 5))).date() if rng.random() < 0.8 else None
        clocks = [_clock(rng, today) for _ in range(rng.randint(0, 2))]
        event = risk_event_raised(f"企业{i}", raised_at=raised_at, decision_due=today + timedelta(days=rng.randint(-30, 10)),
                                  clocks=clocks, signal_published_on=published)  # fmt: skip
        updates = []
        if rng.random() < 0.6:
            later = [_ended(c, rng) for c in clocks]
            decided = rng.random() < 0.7
            updates.append(RiskEventUpdatedV2(
                risk_event_id=event.risk_event_id, organisation_id=event.organisation_id,
                status=RiskEventStatus.DECIDED if decided else RiskEventStatus.IN_REVIEW, severity=Severity.HIGH,
                change="decided" if decided else "assigned", decision=Measure.SUSPEND if decided else None,
                actor="dm", updated_at=min(raised_at + timedelta(days=rng.randint(0, 20)), datetime.now(UTC)), clocks=later,
                signal_published_on=published,
            ))  # fmt: skip
        events.append((event, updates))
    ids = [e.risk_event_id for e, _ in events[:60]]
    async with db.transaction() as session, repository.batched(session, ids, clocks_of=ids):
        for event, updates in events[:60]:  # a batch, as the consumer takes them (a clock put twice in it)
            await service.risk_event_raised(session, event)
            await service.risk_event_clocks(session, event)
            for update in updates:
                await service.risk_event_updated(session, update)
                await service.risk_event_clocks(session, update)
    for event, updates in events[60:]:  # one by one, the update's clocks sometimes before the raised event's
        async with db.transaction() as session:
            await service.risk_event_raised(session, event)
            for update in updates:
                await service.risk_event_updated(session, update)
                await service.risk_event_clocks(session, update)
            await service.risk_event_clocks(session, event)


def _rows_say(line: dict[str, Any]) -> dict[str, Any]:
    median = line["median_days"]
    return {k: line[k] for k in ("kind", "due", "met", "missed", "running", "max_days")} | {
        "median_days": None if median is None else float(median),
        "basis": line["basis"] if line["due"] else None,
    }


async def test_the_aggregate_says_what_the_rows_say(service_settings) -> None:
    db = Database(service_settings("reporting"))
    today = datetime.now(dashboard.LOCAL).date()
    try:
        await _project(db, today, seed=16)
        async with db.transaction() as session:
            for start, end in [(today - timedelta(days=45), today - timedelta(days=10)),
                               (today - timedelta(days=29), today), (today - timedelta(days=5), today + timedelta(days=25)),
                               (today + timedelta(days=1), today + timedelta(days=30))]:  # fmt: skip
                from_rows = {
                    line["kind"]: _rows_say(line) for line in await repository.clock_lines(session, start, end, today)
                }
                from_tallies = {line["kind"]: _rows_say(line) for line in await dashboard._timeliness(session, start, end, today)
                                if line["due"]}  # fmt: skip
                assert from_tallies == from_rows, (start, end)
            for day in (today, today + timedelta(days=3)):
                assert await repository.overdue_on(session, day) == await repository.overdue(
                    session, day + timedelta(days=1)
                )

            kept = {(t.day, t.metric, t.dimension): t.value for t in (await session.scalars(select(DailyTally))).all()}
            await repository.rebuild_daily_tallies(session)
            rebuilt = {(t.day, t.metric, t.dimension): t.value
                       for t in (await session.scalars(select(DailyTally).execution_options(populate_existing=True))).all()}  # fmt: skip
            assert {k: v for k, v in kept.items() if v} == rebuilt
            assert any(metric == "clock_days" for _, metric, _ in rebuilt)
            await session.execute(text("SELECT 1"))
    finally:
        await db.dispose()
