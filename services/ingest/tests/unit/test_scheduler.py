from datetime import UTC, datetime

from services.ingest.runs.config import FeedConfig
from services.ingest.runs.scheduler import due, seconds_until_next

NIGHTLY = FeedConfig(name="samr", kind="spot_check", url="http://x/a.xlsx", schedule="0 2 * * *")
HOURLY = FeedConfig(name="gsxt", kind="serious_illegal", url="http://x/b.csv", schedule="0 * * * *")


def at(hour: int, minute: int = 0, day: int = 25) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


START = at(0, 30, day=20)


def test_a_feed_that_never_ran_waits_for_its_first_fire_time_after_start() -> None:
    assert due([NIGHTLY], {}, at(1, day=20), since=at(0, 30, day=20)) == []
    assert due([NIGHTLY], {}, at(2, 1, day=20), since=at(0, 30, day=20)) == [NIGHTLY]


def test_a_nightly_feed_is_due_after_two_and_not_again_the_same_night() -> None:
    assert due([NIGHTLY], {"samr": at(2, 0, day=24)}, at(1, 59), START) == []
    assert due([NIGHTLY], {"samr": at(2, 0, day=24)}, at(2, 1), START) == [NIGHTLY]
    assert due([NIGHTLY], {"samr": at(2, 0, day=25)}, at(23), START) == []


def test_a_run_missed_while_down_is_caught_up_once() -> None:
    assert due([NIGHTLY], {"samr": at(2, day=20)}, at(9), START) == [NIGHTLY]


def test_disabled_feeds_never_run_and_the_sleep_is_until_the_next_fire_time() -> None:
    assert due([NIGHTLY.model_copy(update={"enabled": False})], {}, at(3), START) == []
    assert seconds_until_next([NIGHTLY, HOURLY], at(1, 58)) == 120
    assert seconds_until_next([NIGHTLY], at(3)) == 300  # wakes at least every five minutes
