"""The regulator's report for a chosen period: what was raised, what was decided, which certificates were
suspended, withdrawn or restored, what is past its deadline, and how timely the statutory clocks were, as
XLSX (one sheet each) or CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting import repository
from services.reporting.models import MeasureTaken, RiskEventView
from services.reporting.service import LOCAL, SELF_REPORT
from services.reporting.timeliness import COLUMNS as TIMELINESS_COLUMNS
from services.reporting.timeliness import ClockTimeliness, timeliness
from shared.errors import InvalidInput

LONGEST_PERIOD = timedelta(days=366)
EVENT_COLUMNS = [
    "risk_event_id",
    "raised_at",
    "organisation_name",
    "province",
    "signal_kind",
    "severity",
    "certificate_types",
    "recommended_measure",
    "status",
    "decision",
    "decided_at",
    "decided_by",
    "decision_due",
    "closed_at",
]
MEASURE_COLUMNS = [
    "effective_on",
    "organisation_name",
    "certificate_number",
    "certificate_type",
    "old_status",
    "new_status",
    "until",
    "reason",
    "decided_by",
    "risk_event_id",
]


@dataclass(frozen=True)
class Report:
    start: date
    end: date  # inclusive
    raised: list[RiskEventView]
    decided: list[RiskEventView]
    measures: list[tuple[MeasureTaken, str | None]]
    overdue: list[RiskEventView]
    timeliness: list[ClockTimeliness] = dataclasses.field(default_factory=list)  # per statutory clock

    def summary(self) -> list[tuple[str, str, int]]:
        """(section, item, count) rows: the first sheet, and the JSON answer."""
        rows: list[tuple[str, str, int]] = [
            ("risk events raised", "all", len(self.raised)),
            # of those, the problems organisations reported themselves (自查自纠上报), counted apart
            ("risk events self-reported", SELF_REPORT, sum(e.signal_kind == SELF_REPORT for e in self.raised)),
        ]
        for section, values in (
            ("raised by signal kind", [e.signal_kind for e in self.raised]),
            ("raised by severity", [e.severity for e in self.raised]),
            ("raised by province", [e.province or "unknown" for e in self.raised]),
            (
                "raised by certificate type",
                [t for e in self.raised for t in (e.certificate_types or "none").split(",")],
            ),
            ("decided by measure", [e.decision or "none" for e in self.decided]),
            ("certificates by new status", [m.new_status for m, _ in self.measures]),
        ):
            rows += [(section, item, n) for item, n in sorted(Counter(values).items())]
        rows.append(("open past their decision deadline", f"on {self.end.isoformat()}", len(self.overdue)))
        for line in self.timeliness:
            rows += [("deadlines met", line.kind, line.met), ("deadlines missed", line.kind, line.missed)]
        return rows


# The days a report can name: certification under today's rules began long after 2000; 2100 is far enough.
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


def period(start: date | None, end: date | None) -> tuple[date, date]:
    """The period asked for, checked: by default the last 30 days up to today."""
    for field, day in (("start", start), ("end", end)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise InvalidInput(f"{field} {day} is outside {EARLIEST}..{LATEST}", field=field)
    end = end or datetime.now(LOCAL).date()
    start = start or max(EARLIEST, end - timedelta(days=29))
    if start > end:
        raise InvalidInput(f"start {start} is after end {end}", field="start")
    if end - start >= LONGEST_PERIOD:
        raise InvalidInput("a report covers at most 366 days: ask for several", field="end")
    return start, end


async def build(session: AsyncSession, start: date, end: date) -> Report:
    since, until = _midnight(start), _midnight(end + timedelta(days=1))
    return Report(
        start,
        end,
        raised=await repository.raised_between(session, since, until),
        decided=await repository.decided_between(session, since, until),
        measures=await repository.measures_between(session, start, end),
        overdue=await repository.open_past_deadline(session, end + timedelta(days=1)),
        timeliness=timeliness(await repository.clocks_due_between(session, start, end), datetime.now(LOCAL).date()),
    )


def to_xlsx(report: Report) -> bytes:
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "Summary"
    summary.append([f"Report {report.start.isoformat()} – {report.end.isoformat()}"])
    summary["A1"].font = Font(bold=True)
    _table(summary, ["section", "item", "count"], [list(row) for row in report.summary()])
    _table(book.create_sheet("Risk events raised"), EVENT_COLUMNS, [_event_row(e) for e in report.raised])
    _table(book.create_sheet("Decisions"), EVENT_COLUMNS, [_event_row(e) for e in report.decided])
    _table(book.create_sheet("Certificate measures"), MEASURE_COLUMNS, [_measure_row(m, n) for m, n in report.measures])
    _table(book.create_sheet("Past deadline"), EVENT_COLUMNS, [_event_row(e) for e in report.overdue])
    _table(book.create_sheet("Timeliness"), TIMELINESS_COLUMNS, [line.row() for line in report.timeliness])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def events_csv(report: Report) -> bytes:
    """The risk events raised in the period, one row each, with their decision (UTF-8 with BOM: Excel)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EVENT_COLUMNS)
    writer.writerows([_text(v) for v in _event_row(e)] for e in report.raised)
    return out.getvalue().encode("utf-8-sig")


def _table(sheet: Any, header: list[str], rows: list[list[object]]) -> None:
    sheet.append(header)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)


def _event_row(e: RiskEventView) -> list[object]:
    return [
        str(e.risk_event_id),
        _naive(e.raised_at),
        e.organisation_name,
        e.province,
        e.signal_kind,
        e.severity,
        e.certificate_types,
        e.recommended_measure,
        e.status,
        e.decision,
        _naive(e.decided_at),
        e.decided_by,
        e.decision_due,
        _naive(e.closed_at),
    ]


def _measure_row(m: MeasureTaken, organisation_name: str | None) -> list[object]:
    return [
        m.effective_on,
        organisation_name or str(m.organisation_id),
        m.certificate_number,
        m.certificate_type,
        m.old_status,
        m.new_status,
        m.until,
        m.reason,
        m.decided_by,
        str(m.risk_event_id) if m.risk_event_id else None,
    ]


def _naive(at: datetime | None) -> datetime | None:
    """XLSX has no time zones: times are written in Beijing time, as the regulator reads them."""
    return at.astimezone(LOCAL).replace(tzinfo=None) if at else None


def _text(value: object) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, date | datetime) else str(value)


def _midnight(day: date) -> datetime:
    """A day starts at midnight in Shanghai: the report counts the same days as the dashboard."""
    return datetime.combine(day, time.min, tzinfo=LOCAL)
