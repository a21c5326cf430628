"""The dashboard's daily aggregate read back on real PostgreSQL: an event counted on its Asia/Shanghai day, summed
per week (its Monday), per month (its first day) or over a span; running totals before a day; a reopened event
taken back on the day it had been resolved."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from services.reporting import repository, service
from shared.contracts.rules import Measure, RiskEventStatus, RiskEventUpdated, Severity
from shared.db.session import Database
from tests.support.events import risk_event_raised

pytestmark = pytest.mark.integration


def _update(
    event_id: uuid.UUID,
    organisation: uuid.UUID,
    status: RiskEventStatus,
    change: str,
    when: datetime,
    decision: Measure | None = None,
) -> RiskEventUpdated:
    return RiskEventUpdated(
        risk_event_id=event_id,
        organisation_id=organisation,
        status=status,
        severity=Severity.HIGH,
        change=change,
        decision=decision,
        actor="dm",
        updated_at=when,
    )


async def test_events_are_counted_on_their_local_day_and_summed_per_week_month_and_span(service_settings) -> None:
    db = Database(service_settings("reporting"))
    moments = [
        datetime(2026, 11, 29, 15, 59, tzinfo=UTC),  # Sunday 29 Nov, 23:59 in Shanghai
        datetime(2026, 11, 29, 16, 0, tzinfo=UTC),  # Monday 30 Nov, 00:00 in Shanghai: the next week
        datetime(2026, 11, 30, 17, 0, tzinfo=UTC),  # Tuesday 1 Dec, 01:00 in Shanghai: the next month
        datetime(2026, 12, 6, 3, 0, tzinfo=UTC),  # Sunday 6 Dec
    ]
    try:
        async with db.transaction() as session:
            for at in moments:
                await service.risk_event_raised(session, risk_event_raised("事件", raised_at=at))
        async with db.transaction() as session:
            per_day = await repository.daily(session, ["raised"], date(2026, 11, 1), date(2026, 12, 31), "day")
            per_week = await repository.daily(session, ["raised"], date(2026, 11, 1), date(2026, 12, 31), "week")
            per_month = await repository.daily(session, ["raised"], date(2026, 11, 1), date(2026, 12, 31), "month")
            span = await repository.daily(session, ["raised"], date(2026, 11, 30), date(2026, 12, 1))
            before = await repository.daily_totals(session, ["raised"], date(2026, 12, 1))
        assert sorted((d, n) for d, _, _, n in per_day) == [
            (date(2026, 11, 29), 1),
            (date(2026, 11, 30), 1),
            (date(2026, 12, 1), 1),
            (date(2026, 12, 6), 1),
        ]
        assert sorted((d, n) for d, _, _, n in per_week) == [(date(2026, 11, 23), 1), (date(2026, 11, 30), 3)]
        assert sorted((d, n) for d, _, _, n in per_month) == [(date(2026, 11, 1), 2), (date(2026, 12, 1), 2)]
        assert span == [(None, "raised", "all", 2)]
        assert before == {"raised": 2}
    finally:
        await db.dispose()


async def test_a_reopened_event_is_taken_back_on_the_day_it_had_been_resolved(service_settings) -> None:
    db = Database(service_settings("reporting"))
    event = risk_event_raised("重开", raised_at=datetime(2026, 11, 2, 3, tzinfo=UTC), decision_due=date(2026, 11, 5))
    decided, reopened = datetime(2026, 11, 3, 3, tzinfo=UTC), datetime(2026, 11, 9, 3, tzinfo=UTC)
    try:
        async with db.transaction() as session:
            await service.risk_event_raised(session, event)
            await service.risk_event_updated(
                session,
                _update(
                    event.risk_event_id,
                    event.organisation_id,
                    RiskEventStatus.DECIDED,
                    "decided",
                    decided,
                    Measure.SUSPEND,
                ),
            )
        async with db.transaction() as session:
            assert await repository.daily_totals(session, ["resolved", "due", "due_resolved"], date(2026, 12, 1)) == {
                "resolved": 1,
                "due": 1,
                "due_resolved": 1,
            }
            assert await repository.overdue_on(session, date(2026, 11, 10)) == 0
            await service.risk_event_updated(
                session,
                _update(event.risk_event_id, event.organisation_id, RiskEventStatus.IN_REVIEW, "reopened", reopened),
            )
        async with db.transaction() as session:
            totals = await repository.daily_totals(session, ["resolved", "due_resolved"], date(2026, 12, 1))
            assert totals == {"resolved": 0, "due_resolved": 0}
            assert await repository.overdue_on(session, date(2026, 11, 10)) == 1  # past its deadline again
            assert await repository.overdue(session, date(2026, 11, 11)) == 1
            decisions = await repository.daily(session, ["decided_by_measure"], date(2026, 11, 1), date(2026, 11, 30))
            assert decisions == [
                (None, "decided_by_measure", "suspend", 1)
            ]  # the decision was taken, and stays counted
    finally:
        await db.dispose()
