"""HTTP entrypoints of reporting."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse

from services.reporting import dashboard, report, service
from shared.auth import RESPONSES, Action, allowed
from shared.db.session import ReadSession

router = APIRouter(tags=["reporting"], responses=RESPONSES, dependencies=[allowed(Action.READ)])
DAY = {"pattern": r"^(20\d\d|2100)-\d\d-\d\d$"}  # the days a report may cover (report.EARLIEST..LATEST), in the schema
REPORT_FORMATS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the report in the format asked for",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"}
            },
        },
    }
}


@router.get("/summary")
async def get_summary(session: ReadSession) -> dict[str, object]:
    """Certificates screened, risk events by severity, province, kind and certificate type, measures taken."""
    return await service.summary(session)


@router.get("/risk-events/count")
async def count_risk_events(session: ReadSession) -> dict[str, int]:
    """The number of risk events raised so far."""
    summary = await service.summary(session)
    return {"risk_events_raised": int(summary["risk_events_raised"])}  # type: ignore[call-overload]


@router.get("/reports/regulator", response_model=None, responses=REPORT_FORMATS)
async def regulator_report(
    session: ReadSession,
    start: date | None = Query(None, description="first day (default: 29 days before end)", json_schema_extra=DAY),
    end: date | None = Query(None, description="last day, included (default: today)", json_schema_extra=DAY),
    format: Literal["xlsx", "csv", "json"] = Query("xlsx", description="xlsx: every sheet; csv: the events raised"),
) -> Response | dict[str, object]:
    """The regulator's report for a period: events raised and decided, certificates suspended, withdrawn
    or restored, events open past their decision deadline, and the statutory clocks' timeliness."""
    first, last = report.period(start, end)
    built = await report.build(session, first, last)
    name = f"certwatch-report-{first.isoformat()}-{last.isoformat()}"
    if format == "json":
        return {
            "start": first, "end": last,
            "summary": [{"section": s, "item": i, "count": n} for s, i, n in built.summary()],
            "timeliness": [asdict(line) for line in built.timeliness],
        }  # fmt: skip
    if format == "csv":
        body, media = report.events_csv(built), "text/csv; charset=utf-8"
    else:
        body, media = report.to_xlsx(built), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    headers = {"Content-Disposition": f'attachment; filename="{name}.{format}"'}
    return Response(body, media_type=media, headers=headers)


@router.get("/dashboard", response_class=HTMLResponse)
async def get_dashboard(
    session: ReadSession,
    start: date | None = Query(None, description="first day (default: 29 days before end)", json_schema_extra=DAY),
    end: date | None = Query(None, description="last day, included (default: today)", json_schema_extra=DAY),
) -> HTMLResponse:
    """The dashboard for a period: figures, charts, feed freshness, and the report's exports."""
    first, last = report.period(start, end)
    built = await report.build(session, first, last)
    return HTMLResponse(dashboard.render(built, await service.summary(session), datetime.now(UTC).date()))
