"""Working days on the PRC calendar (shared/workdays.py): 调休, holidays, and the end of the holiday table."""

import logging
from datetime import date, timedelta

import pytest

from shared.workdays import HolidaysUnknown, add_working_days, is_working_day, table_years

LAST_YEAR = table_years()[1]


def test_a_weekend_day_moved_to_work_is_a_working_day_and_a_holiday_weekday_is_not() -> None:
    assert is_working_day(date(2026, 2, 14)) == (True, True)  # Saturday, 调休 before the Spring Festival
    assert is_working_day(date(2026, 2, 21)) == (False, True)  # Saturday in the Spring Festival
    assert is_working_day(date(2026, 2, 16)) == (False, True)  # Monday in the Spring Festival
    assert is_working_day(date(2026, 10, 10)) == (True, True)  # Saturday, 调休 after National Day


def test_five_working_days_over_golden_week() -> None:
    """From Wed 30 Sep 2026: 1–7 Oct are holidays; Thu 8, Fri 9, Sat 10 (调休), Mon 12, Tue 13."""
    assert add_working_days(date(2026, 9, 30), 5).due == date(2026, 10, 13)
    assert add_working_days(date(2026, 9, 30), 5).provisional is False


def test_five_working_days_over_the_spring_festival_count_the_working_saturdays() -> None:
    """From Fri 13 Feb 2026: Sat 14 (调休) is the first, 15–23 Feb are holidays, then Tue 24 … Fri 27."""
    assert add_working_days(date(2026, 2, 13), 5).due == date(2026, 2, 27)


def test_the_day_it_starts_from_never_counts_and_a_holiday_start_counts_from_the_next_working_day() -> None:
    assert add_working_days(date(2026, 11, 25), 5).due == date(2026, 12, 2)  # Wed → the next Wed
    assert add_working_days(date(2026, 10, 1), 1).due == date(2026, 10, 8)
    with pytest.raises(ValueError, match="at least one"):
        add_working_days(date(2026, 10, 1), 0)


def test_past_the_table_the_count_is_flagged_logged_and_never_counts_new_years_day(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The table ends with the last year the State Council announced: a count that reaches past it uses the
    documented fallback (Monday to Friday less the fixed-date holidays) and says so."""
    start = date(LAST_YEAR, 12, 31)
    with caplog.at_level(logging.WARNING, logger="shared.workdays"):
        counted = add_working_days(start, 5)
    assert counted.provisional and f"public holidays of {LAST_YEAR + 1} are not in chinese-calendar" in (
        counted.note or ""
    )
    assert "provisional" in caplog.text and str(LAST_YEAR + 1) in caplog.text
    assert is_working_day(date(LAST_YEAR + 1, 1, 1)) == (False, False)  # 元旦, whatever day it falls on
    assert is_working_day(date(LAST_YEAR + 1, 10, 2)) == (False, False)  # 国庆
    fallback_days = [start + timedelta(days=n) for n in range(1, (counted.due - start).days + 1)]
    assert sum(is_working_day(d)[0] for d in fallback_days) == 5 and date(LAST_YEAR + 1, 1, 1) in fallback_days
    with pytest.raises(HolidaysUnknown, match=f"public holidays of {LAST_YEAR + 1}"):
        add_working_days(start, 5, strict=True)
    assert not add_working_days(date(LAST_YEAR, 12, 1), 5).provisional  # a count inside the table is not


@pytest.mark.skipif(LAST_YEAR != 2026, reason="the expected day is worked out for a table ending with 2026")
def test_the_year_end_of_2026() -> None:
    """Mon 28 Dec 2026: Tue 29, Wed 30, Thu 31 from the table; Fri 1 Jan 2027 is 元旦; Mon 4, Tue 5 Jan."""
    counted = add_working_days(date(2026, 12, 28), 5)
    assert (counted.due, counted.provisional) == (date(2027, 1, 5), True)
    assert add_working_days(date(2026, 12, 24), 5) == add_working_days(date(2026, 12, 24), 5, strict=True)
