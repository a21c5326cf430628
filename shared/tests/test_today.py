"""`today()` is the day in Asia/Shanghai, whatever the machine's zone: from 16:00 UTC it is already tomorrow there."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

import pytest

from shared import workdays
from shared.workdays import LOCAL, today


def frozen_at(instant: datetime) -> type[datetime]:
    """A `datetime` whose now() is `instant`, seen in whatever zone it is asked for."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Frozen:
            seen = instant.astimezone(tz) if tz else instant.astimezone(UTC).replace(tzinfo=None)  # naive: UTC host
            return cls(*seen.timetuple()[:6], seen.microsecond, tzinfo=seen.tzinfo)

    return Frozen


def test_today_is_now_in_shanghai() -> None:
    before = datetime.now(LOCAL).date()
    found = today()
    after = datetime.now(LOCAL).date()
    assert found in (before, after)  # equal unless midnight in Shanghai fell between the calls


def test_shanghai_is_eight_hours_ahead_of_utc_all_year() -> None:
    assert str(LOCAL) == "Asia/Shanghai"
    for month in (1, 7):  # no daylight saving time: the same offset in winter and summer
        assert datetime(2026, month, 15, 12, tzinfo=LOCAL).utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (datetime(2026, 12, 3, 15, 59, 59, tzinfo=UTC), date(2026, 12, 3)),  # 23:59:59 in Shanghai
        (datetime(2026, 12, 3, 16, 0, tzinfo=UTC), date(2026, 12, 4)),  # midnight there
        (datetime(2026, 12, 3, 16, 30, tzinfo=UTC), date(2026, 12, 4)),  # 00:30 there: the next day
        (datetime(2026, 12, 31, 16, 30, tzinfo=UTC), date(2027, 1, 1)),  # and the next year
        (datetime(2026, 12, 4, 0, 0, tzinfo=UTC), date(2026, 12, 4)),  # 08:00 there
    ],
)
def test_today_counts_the_day_in_shanghai_not_in_utc(
    utc: datetime, expected: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workdays, "datetime", frozen_at(utc))
    assert today() == expected
    assert utc.astimezone(LOCAL).date() == expected
