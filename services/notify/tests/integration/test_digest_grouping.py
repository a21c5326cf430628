"""How the reviewers' digest groups and flags open events (on real PostgreSQL for the listing; the clock choice
and the schedule without I/O): past their deadline, due within three days (the boundaries), the rest; ties by
the newest; the statutory clock the line names; the next run in the reviewers' zone."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.notify import digest
from shared.contracts.rules import Clock, ClockKind, ClockState, ClockUnit, LegalBasis, RiskEventRaisedV2
from shared.db.session import Database
from tests.support.events import risk_event_raised

TODAY = date(2026, 12, 10)


def _clock(kind: ClockKind, due: date, state: ClockState = ClockState.RUNNING, ended: date | None = None) -> Clock:
    return Clock(
        clock_id=uuid.uuid4(),
        kind=kind,
        basis=LegalBasis(document="认证机构管理办法", article=f"Art.{kind.value}", requirement="r"),
        starts_on=due - timedelta(days=10),
        unit=ClockUnit.CALENDAR_DAYS,
        due_on=due,
        state=state,
        ended_on=ended,
    )


def test_the_line_names_the_running_clock_due_first() -> None:
    assert digest._first_clock([]) == {"clock_due": None, "clock_kind": None, "clock_basis": None}
    clocks = [
        _clock(ClockKind.WITHDRAWAL, TODAY + timedelta(days=1), ClockState.VOID),  # no deadline
        _clock(ClockKind.REPLY, TODAY + timedelta(days=2), ClockState.MET, TODAY),  # ended
        _clock(ClockKind.SUSPENSION, TODAY + timedelta(days=9)),
        _clock(ClockKind.SHORT_NOTICE_AUDIT, TODAY + timedelta(days=5)),
    ]
    assert digest._first_clock(clocks) == {
        "clock_due": TODAY + timedelta(days=5),
        "clock_kind": "short_notice_audit",
        "clock_basis": "认证机构管理办法 Art.short_notice_audit",
    }
    assert digest._first_clock(clocks[:2])["clock_due"] is None


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    st.integers(0, 23),
    st.integers(0, 59),
    st.sampled_from(["Asia/Shanghai", "UTC", "Europe/Berlin"]),
)
def test_the_next_run_is_the_next_time_of_day_in_the_zone(now: datetime, hour: int, minute: int, zone: str) -> None:
    at = f"{hour:02d}:{minute:02d}"
    run = digest.next_run(now, at, zone)
    local = run.astimezone(ZoneInfo(zone))
    assert run > now and run - now <= timedelta(days=1, hours=1)
    assert (local.hour, local.minute) in ((hour, minute), ((hour + 1) % 24, minute))  # a DST gap moves it on


@pytest.mark.integration
async def test_the_digest_flags_at_the_boundaries_and_orders_ties_by_the_newest(service_settings) -> None:
    db = Database(service_settings("notify"))
    now = datetime.now(UTC)

    def event(title: str, due: date | None, hours_ago: int = 0, clocks: list[Clock] | None = None) -> RiskEventRaisedV2:
        return risk_event_raised(
            title, decision_due=due, raised_at=now - timedelta(hours=hours_ago), clocks=clocks or []
        )

    events = [
        event("无期限", None),
        event("四日后", TODAY + timedelta(days=4)),
        event("三日后", TODAY + timedelta(days=3)),
        event("今日到期", TODAY),
        event("昨日到期-旧", TODAY - timedelta(days=1), hours_ago=5),
        event("昨日到期-新", TODAY - timedelta(days=1), hours_ago=1),
        event("时限在前", TODAY + timedelta(days=30), clocks=[_clock(ClockKind.REPLY, TODAY + timedelta(days=2))]),
    ]
    try:
        async with db.transaction() as session:
            await digest.raised(session, events)
        async with db.sessions() as session:
            listed = await digest.lines(session, TODAY, "en")
        assert [(line.event.title, line.flag) for line in listed] == [
            ("昨日到期-新", "overdue"),
            ("昨日到期-旧", "overdue"),
            ("今日到期", "due_soon"),
            ("时限在前", "due_soon"),
            ("三日后", "due_soon"),
            ("四日后", ""),
            ("无期限", ""),
        ]
        clocked = listed[3]
        assert clocked.due == TODAY + timedelta(days=2) and clocked.clock and clocked.event.clock_kind == "reply"
        assert all(line.clock == "" for line in listed if line is not clocked)
        async with db.sessions() as session:
            chinese = await digest.lines(session, TODAY, "zh-CN")
        assert chinese[3].clock != clocked.clock  # the clock's words in the digest's language
    finally:
        await db.dispose()
