from datetime import UTC, datetime

import pytest

from services.notify.quiet import QuietHours

SHANGHAI_NIGHT = QuietHours.parse("21:00-08:00", "Asia/Shanghai")  # UTC+8


@pytest.mark.parametrize(
    ("utc", "ends"),
    [
        ("2026-12-01T12:59", None),  # 20:59 in Shanghai: not yet quiet
        ("2026-12-01T13:00", "2026-12-02T08:00"),  # 21:00: quiet until tomorrow morning
        ("2026-12-01T15:59", "2026-12-02T08:00"),  # 23:59
        ("2026-12-01T16:00", "2026-12-02T08:00"),  # 00:00 the next day
        ("2026-12-01T23:59", "2026-12-02T08:00"),  # 07:59
        ("2026-12-02T00:00", None),  # 08:00: texts go again
    ],
)
def test_quiet_hours_over_midnight_in_local_time(utc: str, ends: str | None) -> None:
    found = SHANGHAI_NIGHT.ends_after(datetime.fromisoformat(utc).replace(tzinfo=UTC))
    expected = None if ends is None else datetime.fromisoformat(ends).replace(tzinfo=SHANGHAI_NIGHT.zone)
    assert found == expected


def test_quiet_hours_within_a_day() -> None:
    lunch = QuietHours.parse("12:00-13:30", "UTC")
    assert lunch.ends_after(datetime(2026, 12, 1, 12, 45, tzinfo=UTC)) == datetime(
        2026, 12, 1, 13, 30, tzinfo=lunch.zone
    )
    assert lunch.ends_after(datetime(2026, 12, 1, 13, 30, tzinfo=UTC)) is None


@pytest.mark.parametrize(("spec", "says"), [("21-8", "HH:MM-HH:MM"), ("08:00-08:00", "the same"), ("x", "HH:MM")])
def test_bad_quiet_hours_say_what_is_wrong(spec: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        QuietHours.parse(spec, "Asia/Shanghai")


def test_the_settings_refuse_bad_quiet_hours_at_start() -> None:
    from pydantic import ValidationError

    from services.notify.settings import NotifySettings

    with pytest.raises(ValidationError, match="expected HH:MM-HH:MM"):
        NotifySettings(sms_quiet_hours="nine to five")
    assert NotifySettings(sms_quiet_hours="21:00-08:00").quiet_hours() == SHANGHAI_NIGHT
