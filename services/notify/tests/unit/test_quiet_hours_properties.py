"""Properties of the SMS quiet hours (services/notify/quiet.py) over any span and any moment: a text sent in
them waits for their end and never longer than a day; one sent outside goes at once."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.notify.quiet import QuietHours

ZONES = st.sampled_from(["Asia/Shanghai", "UTC", "Asia/Urumqi", "Europe/Berlin", "America/New_York"])
MINUTES = st.integers(min_value=0, max_value=24 * 60 - 1)
MOMENTS = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC))


def _at(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _quiet(local: time, start: time, end: time) -> bool:
    """The rule in words: over midnight when the end comes before the start."""
    return (local >= start or local < end) if end < start else (start <= local < end)


@settings(max_examples=300, deadline=None)
@given(first=MINUTES, last=MINUTES, zone=ZONES, now=MOMENTS)
def test_a_text_waits_exactly_while_the_hours_are_quiet(first: int, last: int, zone: str, now: datetime) -> None:
    assume(first != last)
    hours = QuietHours.parse(f"{_at(first)}-{_at(last)}", zone)
    local = now.astimezone(hours.zone)
    ends = hours.ends_after(now)
    assert (ends is not None) is _quiet(local.time().replace(tzinfo=None), hours.start, hours.end)
    if ends is not None:
        assert ends > now, "the end of the quiet hours is ahead"
        assert ends - now <= timedelta(days=1, hours=1), "never more than a day (one DST hour aside)"
        assert ends.astimezone(hours.zone).time() == hours.end
        assert hours.ends_after(ends) is None, "at their end, texts go again"


@settings(max_examples=200, deadline=None)
@given(now=MOMENTS)
def test_the_shanghai_night_defers_to_eight_in_the_morning_the_next_local_day_at_most(now: datetime) -> None:
    night = QuietHours.parse("21:00-08:00", "Asia/Shanghai")
    ends = night.ends_after(now)
    local = now.astimezone(night.zone)
    if ends is None:
        assert time(8) <= local.time() < time(21)
    else:
        assert ends.astimezone(night.zone).hour == 8 and ends.astimezone(night.zone).minute == 0
        assert ends.date() - local.date() in (timedelta(0), timedelta(days=1))


def test_the_zone_is_the_quiet_hours_own_not_the_callers() -> None:
    night = QuietHours.parse("21:00-08:00", "Asia/Shanghai")
    # 22:00 in Berlin on 1 Dec is 05:00 in Shanghai on 2 Dec: quiet there, until 08:00 Shanghai
    berlin = datetime(2026, 12, 1, 22, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert night.ends_after(berlin) == datetime(2026, 12, 2, 8, 0, tzinfo=night.zone)


@pytest.mark.parametrize("spec", ["21:00 - 08:00", " 21:00-08:00 ", "21:00:00-08:00:00"])
def test_spaces_and_seconds_are_read(spec: str) -> None:
    assert QuietHours.parse(spec, "Asia/Shanghai") == QuietHours.parse("21:00-08:00", "Asia/Shanghai")


@pytest.mark.parametrize("spec", ["", "21:00", "21:00-08:00-09:00", "25:00-08:00", "21:00-8h"])
def test_anything_else_is_refused_saying_the_form(spec: str) -> None:
    with pytest.raises(ValueError, match="expected HH:MM-HH:MM"):
        QuietHours.parse(spec, "Asia/Shanghai")


def test_an_unknown_zone_is_refused() -> None:
    with pytest.raises(Exception, match="Mars/Olympus"):
        QuietHours.parse("21:00-08:00", "Mars/Olympus")
