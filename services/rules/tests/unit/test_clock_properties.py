"""The statutory clocks' arithmetic as properties (services/rules/ruleset/clocks.py, review/clocks.py): months
land on the same day or the month's last, a clock ended by its due date is met and after it missed, a moot one
void, and the event's deadline is always its most urgent running clock."""

from __future__ import annotations

import calendar
import uuid
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.rules.review import clocks
from services.rules.ruleset.clocks import CLOCKS, add_months, deadline
from services.rules.tables import RiskEvent
from shared.contracts.rules import ClockKind

DAYS = st.dates(date(2019, 1, 1), date(2026, 6, 30))
PROPERTY = settings(max_examples=200, deadline=None)


@PROPERTY
@given(day=st.dates(date(1990, 1, 1), date(2090, 12, 31)), months=st.integers(0, 120))
def test_months_later_is_the_same_day_or_the_months_last(day: date, months: int) -> None:
    later = add_months(day, months)
    assert (later.year * 12 + later.month) - (day.year * 12 + day.month) == months
    assert later.day == min(day.day, calendar.monthrange(later.year, later.month)[1])


@PROPERTY
@given(start=DAYS, ended_after=st.integers(0, 60), void=st.booleans())
def test_a_clock_ended_by_its_due_date_is_met_after_it_missed_and_a_moot_one_void(
    start: date, ended_after: int, void: bool
) -> None:
    event = RiskEvent(id=uuid.uuid4(), clocks=[])
    clock = clocks.start(event, deadline(ClockKind.SUSPENSION, start))
    on = start + timedelta(days=ended_after)
    clocks.end(clock, on, "test", void=void)
    expected = "void" if void else ("met" if on <= clock.due_on else "missed")
    assert (clock.state, clock.ended_on, clock.ended_by) == (expected, on, "test")
    assert clocks.running(event) == []


@PROPERTY
@given(
    starts=st.lists(
        st.tuples(st.sampled_from([ClockKind.SUSPENSION, ClockKind.WITHDRAWAL, ClockKind.SHORT_NOTICE_AUDIT]), DAYS),
        min_size=1,
        max_size=4,
    )
)
def test_the_events_deadline_is_its_most_urgent_running_clock(starts: list[tuple[ClockKind, date]]) -> None:
    event = RiskEvent(id=uuid.uuid4(), clocks=[])
    for kind, day in starts:
        clocks.start(event, deadline(kind, day))
    assert event.decision_due == min(c.due_on for c in event.clocks)
    assert len({c.id for c in event.clocks}) == len(event.clocks)  # a second clock of a kind is one of its own


def test_every_clock_kind_names_its_basis_and_how_it_counts() -> None:
    for kind in ClockKind:
        rule = CLOCKS[kind]
        assert rule.kind is kind and rule.basis.document and rule.basis.article and rule.ended_by
        assert (rule.length is None) == (kind is ClockKind.REPLY)  # a reply's day is the decision's to set
