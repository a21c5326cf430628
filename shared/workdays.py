"""Working days on the PRC calendar: the State Council's public holidays and the weekend days moved to work
(调休), from the `chinese-calendar` package's table.

The table covers the years the State Council has announced (each November for the next year). A day past
it is counted by a documented fallback, never silently: Monday to Friday are working days except the
fixed-date public holidays of 全国年节及纪念日放假办法 (元旦 1 Jan, 劳动节 1–2 May, 国庆节 1–3 Oct); the
answer says it is provisional, and a warning is logged. The fallback cannot know the lunar holidays (春节,
端午, 中秋), 清明, or the next year's 调休, so a provisional due date may fall earlier, or later, than the
real one: it is to be recomputed once the package knows the year. `strict=True` refuses instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from importlib.metadata import version
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)

# The certification body's and the regulator's calendar: a deadline, an effective date, a report's day are days
# in China. At 00:30 in Beijing it is already the next day there, though not yet in UTC.
LOCAL = ZoneInfo("Asia/Shanghai")


def today() -> date:
    """Today on the PRC calendar (Asia/Shanghai)."""
    return datetime.now(LOCAL).date()


# 全国年节及纪念日放假办法 Art. 2 (2024 revision): the public holidays on a fixed Gregorian date.
FIXED_HOLIDAYS = frozenset({(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)})
FALLBACK_RULE = "Monday to Friday, less 1 Jan, 1–2 May and 1–3 Oct"


class HolidaysUnknown(ValueError):
    """The holiday table does not reach this year (strict counting only)."""


@dataclass(frozen=True)
class WorkingDays:
    """The day a count of working days ends on, and whether some day of it lay past the holiday table."""

    due: date
    provisional: bool = False
    note: str | None = None


@cache
def table_years() -> tuple[int, int]:
    """The first and last year the installed table covers."""
    years = [d.year for d in chinese_calendar.holidays]
    return min(years), max(years)


def is_working_day(day: date) -> tuple[bool, bool]:
    """(a working day?, known from the table?) A day past the table is judged by the fallback rule."""
    first, last = table_years()
    if first <= day.year <= last:
        return bool(chinese_calendar.is_workday(day)), True
    return day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS, False


def add_working_days(start: date, days: int, *, strict: bool = False) -> WorkingDays:
    """The `days`-th working day after `start` (`start` itself never counts: "within 5 working days of the
    information" ends on the fifth working day after it). Past the table: the fallback, flagged, or with
    `strict` a `HolidaysUnknown` naming the year."""
    if days < 1:
        raise ValueError("count at least one working day")
    day, counted, unknown = start, 0, set()
    while counted < days:
        day += timedelta(days=1)
        working, known = is_working_day(day)
        if not known:
            if strict:
                raise HolidaysUnknown(_unknown(day.year))
            unknown.add(day.year)
        counted += working
    if not unknown:
        return WorkingDays(day)
    note = f"{_unknown(min(unknown))}: counted as {FALLBACK_RULE} (provisional)"
    log.warning("working days from %s: %s", start, note)
    return WorkingDays(day, provisional=True, note=note)


@cache
def _unknown(year: int) -> str:
    return f"the public holidays of {year} are not in chinese-calendar {version('chinese-calendar')}"
