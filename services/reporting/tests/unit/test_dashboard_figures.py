"""The dashboard's pieces that need no database (its words, axes, bars, line charts and drill-down filters) and the
regulator's report as files (XLSX sheets and CSV rows), from read models built in memory."""

from __future__ import annotations

import csv
import io
import itertools
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy.dialects import postgresql

from services.reporting.dashboard import WORDS, Filters, Words, _median, _monday, _scale, bars, language, line_chart
from services.reporting.models import MeasureTaken, RiskEventView
from services.reporting.report import EVENT_COLUMNS, MEASURE_COLUMNS, Report, events_csv, period, to_xlsx
from services.reporting.timeliness import COLUMNS, timeliness
from shared.contracts.ingest import SignalKind
from shared.contracts.rules import Measure, Severity
from shared.errors import InvalidInput

ZH, EN = Words("zh-CN"), Words("en")


def test_every_word_has_both_languages() -> None:
    for key, (zh, en) in WORDS.items():
        assert zh.strip() and en.strip(), key
        assert ZH(key) == zh and EN(key) == en


@pytest.mark.parametrize(
    ("asked", "remembered", "chosen"),
    [
        (None, None, "zh-CN"),
        ("en", None, "en"),
        (None, "en", "en"),
        ("zh-CN", "en", "zh-CN"),
        ("fr", "en", "en"),
        ("fr", "de", "zh-CN"),
    ],
)
def test_the_language_asked_then_the_one_remembered_then_chinese(
    asked: str | None, remembered: str | None, chosen: str
) -> None:
    assert language(asked, remembered) == chosen


def test_days_are_local_dates_in_the_pages_language() -> None:
    late = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)  # 00:30 on 2 Dec in Shanghai
    assert ZH.day(late) == "2026年12月2日" and EN.day(late) == "2026-12-02"
    assert ZH.day(date(2026, 1, 5)) == "2026年1月5日" and ZH.day(None) == "—"
    assert EN.moment(late) == "2026-12-02 00:30" and EN.moment(None) == "—"


def test_values_are_named_in_the_pages_language() -> None:
    assert ZH.of(None) == "无" and EN.of("") == "none" and EN.of("unknown") == "unknown"
    assert ZH.of("self_report", SignalKind) == "自查自纠上报" and EN.of("self_report") == "Self-reported"
    assert ZH.of(Severity.HIGH.value, Severity) != EN.of(Severity.HIGH.value, Severity)


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_the_axis_reaches_past_the_largest_value_in_four_round_steps(top: float) -> None:
    axis, ticks = _scale(top)
    assert axis >= max(top, 1) and len(ticks) == 5 and ticks[0] == (0, "0") and ticks[-1][0] == axis
    step = ticks[1][0]
    assert all(b[0] - a[0] == step for a, b in itertools.pairwise(ticks))
    assert str(int(step)).rstrip("0") in ("1", "2", "5")  # 1, 2 or 5 times a power of ten
    assert axis < 10 * max(top, 1)  # never needlessly tall


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.integers(0, 400), st.integers(1, 50), max_size=30))
def test_the_median_of_a_histogram_is_the_median_of_its_values(histogram: dict[int, int]) -> None:
    from statistics import median

    values = [days for days, n in histogram.items() for _ in range(n)]
    assert _median(histogram) == (median(values) if values else None)


def test_a_week_starts_on_monday() -> None:
    assert _monday(date(2026, 12, 6)) == date(2026, 11, 30) and _monday(date(2026, 11, 30)) == date(2026, 11, 30)


def test_bars_put_the_largest_first_and_link_each_to_its_events() -> None:
    found = bars(
        EN,
        "by_severity",
        {"high": 4, "critical": 8, "low": 4},
        Severity,
        "/d/events",
        "severity",
        {"start": "2026-11-01", "end": "2026-11-30"},
    )
    assert [(b.count, b.width) for b in found.bars] == [(8, 100.0), (4, 50.0), (4, 50.0)]
    assert found.bars[1].href == "/d/events?severity=high&start=2026-11-01&end=2026-11-30"
    assert found.title == "Risk events by severity"
    decided = bars(ZH, "by_measure", {"suspend": 2}, Measure, "/d/events", None, {"status": "decided"})
    assert decided.bars[0].href == "/d/events?status=decided"
    assert bars(EN, "by_province", {}, None, "/e", "province", {}).bars == []


def test_a_line_chart_leaves_gaps_for_missing_values_and_shows_them_as_dashes() -> None:
    months = [date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)]
    chart = line_chart(
        EN,
        "median",
        months,
        [("median days", "#000", [3.0, None, 7.5], "/e?status=decided")],
        "month",
        "days",
        monthly=True,
    )
    [line] = chart.lines
    assert len(line.points) == 2 and line.points[1][2] == "2026-12-01 median days: 7.5"
    assert chart.rows == [["2026-10-01", "3"], ["2026-11-01", "—"], ["2026-12-01", "7.5"]]
    assert [text for _, text in chart.x_ticks] == ["Oct", "Nov", "Dec"] and chart.has_data
    empty = line_chart(ZH, "median", months, [("x", "#000", [None, None, None], "/e")], "m", "d", monthly=True)
    assert not empty.has_data


def _sql(filters: Filters, today: date = date(2026, 12, 10)) -> str:
    clauses = filters.where(today)
    return " AND ".join(
        str(c.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})) for c in clauses
    )


def test_the_drill_down_filters_become_conditions_on_the_indexed_columns() -> None:
    assert _sql(Filters()) == ""
    assert "risk_events.province IS NULL" in _sql(Filters(province="unknown"))
    assert "risk_events.certificate_types = ''" in _sql(Filters(certificate_type="none"))
    assert "',CCC,'" in _sql(Filters(certificate_type="CCC"))
    overdue = _sql(Filters(status="overdue"))
    assert "risk_events.decision_due < '2026-12-10'" in overdue and "in_review" in overdue
    week = _sql(Filters(week=date(2026, 11, 30), start=date(2026, 12, 2)))
    assert "2026-12-02 00:00:00+08:00" in week and "2026-12-07 00:00:00+08:00" in week  # the week, cut by the start


def test_the_filters_query_keeps_what_is_set_and_changes_what_is_asked() -> None:
    filters = Filters(kind="recall", week=date(2026, 11, 30), status=None)
    assert filters.query() == "kind=recall&week=2026-11-30"
    assert filters.query(status="decided", kind=None) == "week=2026-11-30&status=decided"


# --- the report as files --------------------------------------------------------------------------------------------


def _event(n: int, **fields: object) -> RiskEventView:
    values: dict[str, object] = {
        "risk_event_id": uuid.UUID(int=n),
        "organisation_name": f"企业{n}有限公司",
        "signal_kind": "spot_check_failure",
        "severity": "high",
        "province": "浙江",
        "certificate_types": "CCC",
        "recommended_measure": "suspend",
        "status": "open",
        "raised_at": datetime(2026, 11, n, 3, 0, tzinfo=UTC),
        "decision_due": date(2026, 11, n + 10),
    } | fields
    return RiskEventView(**values)


def _report() -> Report:
    decided = _event(
        3, status="decided", decision="suspend", decided_at=datetime(2026, 11, 20, 9, tzinfo=UTC), decided_by="dm-wang"
    )
    raised = [_event(1), _event(2, signal_kind="self_report", certificate_types="", province=None), decided]
    measure = MeasureTaken(
        id=uuid.uuid4(),
        organisation_id=uuid.uuid4(),
        certificate_number="2022010703004512",
        certificate_type="CCC",
        old_status="valid",
        new_status="suspended",
        effective_on=date(2026, 11, 21),
        until=date(2027, 2, 21),
        reason="抽查不合格",
        risk_event_id=decided.risk_event_id,
        decided_by="dm-wang",
    )
    lines = timeliness([], date(2026, 12, 1))
    return Report(date(2026, 11, 1), date(2026, 11, 30), raised, [decided], [(measure, None)], [raised[0]], lines)


def test_the_summary_counts_self_reports_apart_and_every_raised_event_once_per_dimension() -> None:
    rows = _report().summary()
    counted = {(section, item): n for section, item, n in rows}
    assert counted[("risk events raised", "all")] == 3 and counted[("risk events self-reported", "self_report")] == 1
    for section in ("raised by signal kind", "raised by severity", "raised by province"):
        assert sum(n for s, _, n in rows if s == section) == 3, section
    assert counted[("raised by province", "unknown")] == 1 and counted[("raised by certificate type", "none")] == 1
    assert counted[("decided by measure", "suspend")] == 1
    assert counted[("open past their decision deadline", "on 2026-11-30")] == 1
    assert sum(1 for s, _, _ in rows if s == "deadlines met") == len(list(timeliness([], date(2026, 12, 1))))


def test_the_xlsx_has_one_sheet_per_section_with_its_header_and_rows() -> None:
    book = load_workbook(io.BytesIO(to_xlsx(_report())))
    assert book.sheetnames == [
        "Summary",
        "Risk events raised",
        "Decisions",
        "Certificate measures",
        "Past deadline",
        "Timeliness",
    ]
    sheet = book["Summary"]
    assert sheet["A1"].value == "Report 2026-11-01 – 2026-11-30" and sheet["A1"].font.bold
    assert [c.value for c in book["Risk events raised"][1]] == EVENT_COLUMNS
    raised = list(book["Risk events raised"].iter_rows(min_row=2, values_only=True))
    assert len(raised) == 3 and raised[0][0] == str(uuid.UUID(int=1))
    assert raised[0][1] == datetime(2026, 11, 1, 11, 0)  # 03:00 UTC in Beijing time, without a zone (XLSX has none)
    measures = list(book["Certificate measures"].iter_rows(values_only=True))
    assert list(measures[0]) == MEASURE_COLUMNS
    [(measure, _)] = _report().measures
    # without its event's name, the organisation is named by its id; the measure names its event
    assert uuid.UUID(str(measures[1][1])) and measures[1][-1] == str(uuid.UUID(int=3))
    assert measures[1][2:8] == ("2022010703004512", "CCC", "valid", "suspended", datetime(2027, 2, 21), "抽查不合格")
    assert measure.until == date(2027, 2, 21)
    assert [c.value for c in book["Timeliness"][1]] == COLUMNS and book["Timeliness"].max_row == 1 + 5
    assert book["Decisions"].max_row == 2 and book["Past deadline"].max_row == 2


def test_the_csv_opens_in_excel_and_writes_empty_cells_for_nothing() -> None:
    data = events_csv(_report())
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == EVENT_COLUMNS and len(rows) == 4
    second = dict(zip(EVENT_COLUMNS, rows[2], strict=True))
    assert (
        second["province"] == "" and second["decision"] == "" and second["raised_at"] == "2026-11-02T11:00:00"
    )  # UTC, as the XLSX
    third = dict(zip(EVENT_COLUMNS, rows[3], strict=True))
    assert (third["decision"], third["decided_by"], third["decision_due"]) == ("suspend", "dm-wang", "2026-11-13")


@settings(max_examples=200, deadline=None)
@given(
    st.none() | st.dates(date(1990, 1, 1), date(2110, 1, 1)), st.none() | st.dates(date(1990, 1, 1), date(2110, 1, 1))
)
def test_a_period_is_either_refused_or_at_most_366_days_in_order(start: date | None, end: date | None) -> None:
    try:
        first, last = period(start, end)
    except InvalidInput as exc:
        assert exc.args  # says what is wrong
        return
    assert first <= last and (last - first) < timedelta(days=366)
    assert (start is None or first == start) and (end is None or last == end)
