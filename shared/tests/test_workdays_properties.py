"""Working days (shared/workdays.py) as properties over the whole table, with chinese-calendar as the oracle:
the day a count ends on is a working day, exactly `n` working days lie after the start up to it, and a longer
count never ends earlier. 调休 Saturdays count; holiday weekdays do not."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.workdays import FIXED_HOLIDAYS, add_working_days, is_working_day, table_years

FIRST, LAST = table_years()
# Starts far enough from the table's end that a count of up to 30 working days stays inside it.
INSIDE = st.dates(min_value=date(max(FIRST, 2019), 1, 1), max_value=date(LAST, 11, 1))
COUNT = st.integers(min_value=1, max_value=30)
PROPERTY = settings(max_examples=150, deadline=None)


@PROPERTY
@given(start=INSIDE, days=COUNT)
def test_a_count_ends_on_a_working_day_after_exactly_that_many_working_days(start: date, days: int) -> None:
    counted = add_working_days(start, days)
    assert not counted.provisional and counted.note is None
    assert chinese_calendar.is_workday(counted.due)
    between = [start + timedelta(n) for n in range(1, (counted.due - start).days + 1)]
    assert sum(chinese_calendar.is_workday(d) for d in between) == days


@PROPERTY
@given(start=INSIDE, days=COUNT)
def test_one_more_working_day_ends_later_and_the_start_never_counts(start: date, days: int) -> None:
    assert add_working_days(start, days + 1).due > add_working_days(start, days).due > start


@PROPERTY
@given(start=INSIDE, first=COUNT, then=COUNT)
def test_counts_compose(start: date, first: int, then: int) -> None:
    """n working days, then m more, end where n + m do."""
    middle = add_working_days(start, first).due
    assert add_working_days(middle, then).due == add_working_days(start, first + then).due


@PROPERTY
@given(day=st.dates(min_value=date(FIRST, 1, 1), max_value=date(LAST, 12, 31)))
def test_inside_the_table_the_verdict_is_chinese_calendars(day: date) -> None:
    assert is_working_day(day) == (chinese_calendar.is_workday(day), True)


@PROPERTY
@given(day=st.dates(min_value=date(LAST + 1, 1, 1), max_value=date(LAST + 5, 12, 31)))
def test_past_the_table_weekdays_work_except_the_fixed_date_holidays(day: date) -> None:
    expected = day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS
    assert is_working_day(day) == (expected, False)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 9, 28), True),  # Sunday, 调休 before National Day 2025
        (date(2025, 10, 11), True),  # Saturday, 调休 after it
        (date(2025, 10, 8), False),  # Wednesday in the National Day and Mid-Autumn holiday
        (date(2025, 4, 27), True),  # Sunday, 调休 before Labour Day 2025
        (date(2025, 5, 5), False),  # Monday in the Labour Day holiday
        (date(2024, 2, 4), True),  # Sunday, 调休 before the 2024 Spring Festival
        (date(2024, 2, 12), False),  # Monday in it
    ],
)
def test_the_announced_moves_of_2024_and_2025(day: date, working: bool) -> None:
    assert is_working_day(day) == (working, True)


def test_a_count_over_labour_day_2025_skips_the_holiday_and_counts_the_sunday_moved_to_work() -> None:
    """From Fri 25 Apr 2025: Sun 27 (调休) and Mon 28, Tue 29, Wed 30; 1–5 May are holidays; then Tue 6 May."""
    assert add_working_days(date(2025, 4, 25), 5).due == date(2025, 5, 6)


@pytest.mark.parametrize("days", [0, -1, -30])
def test_a_count_of_no_working_days_is_refused(days: int) -> None:
    with pytest.raises(ValueError, match="count at least one working day"):
        add_working_days(date(2026, 3, 2), days)
