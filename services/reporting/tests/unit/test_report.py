"""The report's period and its summary rows (no I/O: the rows are read models built in memory)."""

import uuid
from datetime import UTC, date, datetime

import pytest

from services.reporting.dashboard import Words, _median, weekly_chart
from services.reporting.models import ClockView, MeasureTaken, RiskEventView
from services.reporting.report import Report, events_csv, period
from services.reporting.service import LOCAL
from services.reporting.timeliness import timeliness
from shared.errors import InvalidInput


def test_the_period_defaults_to_the_last_30_days() -> None:
    start, end = period(None, None)
    assert end == datetime.now(LOCAL).date() and (end - start).days == 29  # today in Shanghai, as the dashboard
    assert period(date(2026, 11, 1), date(2026, 11, 30)) == (date(2026, 11, 1), date(2026, 11, 30))
    assert period(None, date(2026, 11, 30)) == (date(2026, 11, 1), date(2026, 11, 30))


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        (date(2026, 12, 2), date(2026, 12, 1), "is after end"),
        (date(2025, 1, 1), date(2026, 1, 2), "at most 366 days"),
        (None, date(1, 1, 1), "end 0001-01-01 is outside"),  # schemathesis: the default start underflowed (500)
        (date(9999, 12, 31), None, "start 9999-12-31 is outside"),
    ],
)
def test_a_bad_period_says_what_is_wrong(start: date | None, end: date | None, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        period(start, end)


def _event(severity: str, province: str | None, types: str, decision: str | None = None) -> RiskEventView:
    return RiskEventView(
        risk_event_id=uuid.uuid4(), organisation_name="浙江宏远电器有限公司", signal_kind="spot_check_failure",
        severity=severity, province=province, certificate_types=types, recommended_measure="suspend",
        status="decided" if decision else "open", decision=decision, raised_at=datetime.now(UTC),
    )  # fmt: skip


def test_the_summary_counts_by_each_dimension_and_the_charts_put_the_largest_first() -> None:
    events = [_event("high", "浙江", "CCC,QMS", "suspend"), _event("high", None, ""), _event("critical", "浙江", "CCC")]
    measure = MeasureTaken(
        id=uuid.uuid4(), organisation_id=uuid.uuid4(), certificate_number="C-1", certificate_type="CCC",
        old_status="valid", new_status="suspended", effective_on=date(2026, 12, 1), reason="x", decided_by="dm",
    )  # fmt: skip
    overdue = [_event("high", "浙江", "CCC")]
    report = Report(date(2026, 11, 2), date(2026, 12, 1), events, events[:1], [(measure, None)], overdue)
    rows = {(section, item): n for section, item, n in report.summary()}
    assert rows[("risk events raised", "all")] == 3
    assert rows[("raised by severity", "high")] == 2 and rows[("raised by province", "unknown")] == 1
    assert rows[("raised by certificate type", "CCC")] == 2 and rows[("raised by certificate type", "none")] == 1
    assert rows[("decided by measure", "suspend")] == 1 and rows[("certificates by new status", "suspended")] == 1
    assert rows[("open past their decision deadline", "on 2026-12-01")] == 1
    lines = events_csv(report).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("risk_event_id,raised_at,organisation_name") and len(lines) == 4


def _clock(kind: str, state: str, due: date, ended: date | None, published: date | None) -> ClockView:
    return ClockView(
        clock_id=uuid.uuid4(), risk_event_id=uuid.uuid4(), kind=kind, basis_document="认证机构管理办法",
        basis_article="Art. 21", starts_on=date(2026, 11, 2), due_on=due, state=state, ended_on=ended,
        ended_by="suspend" if ended else None, provisional=False, signal_published_on=published,
    )  # fmt: skip


def test_timeliness_counts_met_and_missed_per_clock_with_the_days_from_publication_to_decision() -> None:
    today = date(2026, 12, 10)
    clocks = [
        _clock("suspension", "met", date(2026, 11, 7), date(2026, 11, 5), date(2026, 11, 1)),  # 4 days
        _clock("suspension", "missed", date(2026, 11, 7), date(2026, 11, 11), date(2026, 11, 1)),  # 10 days
        _clock("suspension", "running", date(2026, 11, 20), None, date(2026, 11, 1)),  # past due: missed
        _clock("suspension", "running", date(2026, 12, 20), None, date(2026, 11, 1)),  # still running
        _clock("suspension", "void", date(2026, 11, 7), date(2026, 11, 3), date(2026, 11, 1)),  # no deadline
        _clock("suspension", "met", date(2026, 11, 7), date(2026, 11, 6), None),  # from its start: 4 days
    ]
    lines = {line.kind: line for line in timeliness(clocks, today)}
    assert set(lines) == {"short_notice_audit", "suspension", "withdrawal", "suspension_limit", "reply"}
    art21 = lines["suspension"]
    assert (art21.due, art21.met, art21.missed, art21.running) == (5, 2, 2, 1)
    assert (art21.median_days, art21.max_days, art21.basis) == (4, 10, "认证机构管理办法 Art. 21")
    assert lines["reply"].due == 0 and lines["reply"].median_days is None
    report = Report(date(2026, 11, 1), date(2026, 11, 30), [], [], [], [], list(lines.values()))
    rows = {(section, item): n for section, item, n in report.summary()}
    assert rows[("deadlines met", "suspension")] == 2 and rows[("deadlines missed", "suspension")] == 2


def test_the_weekly_chart_links_each_segment_to_its_events_and_speaks_chinese_by_default() -> None:
    weeks = [date(2026, 11, 30), date(2026, 12, 7)]
    counts = {weeks[1]: {"food_spot_check_failure": 3, "recall": 1}}
    chart = weekly_chart(Words("zh-CN"), weeks, counts, "/dashboard/events")
    assert [s.title for s in chart.segments] == ["2026年12月7日 食品抽检不合格: 3", "2026年12月7日 产品召回: 1"]
    assert chart.segments[0].href == "/dashboard/events?kind=food_spot_check_failure&week=2026-12-07"
    assert chart.rows == [["2026年11月30日", 0, 0, 0], ["2026年12月7日", 3, 1, 4]]
    assert weekly_chart(Words("en"), weeks, counts, "/e").legend[1][1] == "product recall"


def test_the_median_of_a_histogram_of_days() -> None:
    assert _median({}) is None
    assert (_median({1: 1, 2: 1}), _median({1: 2, 10: 1}), _median({1: 1, 3: 1, 7: 2})) == (1.5, 1.0, 5.0)
