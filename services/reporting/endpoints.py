"""HTTP entrypoints of reporting."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Cookie, Query, Request, Response
from fastapi.responses import HTMLResponse

from services.reporting import dashboard, report, service
from shared.auth import RESPONSES, Action, allowed
from shared.db.session import ReadSession
from shared.responses import errors

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


LANGUAGE_COOKIE = "certwatch_lang"
Lang = Annotated[
    str | None, Query(pattern="^(zh-CN|en)$", description="zh-CN (the default) or en; remembered in a cookie")
]
Remembered = Annotated[str | None, Cookie(alias=LANGUAGE_COOKIE, include_in_schema=False)]


def _page(request: Request, lang: str | None, remembered: str | None) -> tuple[dashboard.Words, str, str]:
    """The page's words, the root its links start from, and the link that switches the language."""
    words = dashboard.Words(dashboard.language(lang, remembered))
    switch = request.url.include_query_params(lang="zh-CN" if words.language == "en" else "en")
    return words, str(request.scope.get("root_path", "")), f"{switch.path}?{switch.query}"


def _html(body: str, lang: str | None) -> HTMLResponse:
    response = HTMLResponse(body)
    if lang:
        response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="lax")
    return response


@router.get("/dashboard", response_class=HTMLResponse)
async def get_dashboard(
    request: Request,
    session: ReadSession,
    start: date | None = Query(None, description="first day (default: 29 days before end)", json_schema_extra=DAY),
    end: date | None = Query(None, description="last day, included (default: today)", json_schema_extra=DAY),
    lang: Lang = None,
    remembered: Remembered = None,
) -> HTMLResponse:
    """The dashboard: a period's figures and charts, the last 12 months' trends, timeliness and feed freshness."""
    first, last = report.period(start, end)
    words, base, switch = _page(request, lang, remembered)
    today = datetime.now(dashboard.LOCAL).date()
    shown = await dashboard.overview(session, words, first, last, today, base)
    body = dashboard.render("dashboard.html.j2", words, base, switch, start=first, end=last, today=today, **shown)
    return _html(body, lang)


@router.get("/dashboard/events", response_class=HTMLResponse)
async def list_dashboard_events(
    request: Request,
    session: ReadSession,
    kind: str | None = Query(None, max_length=50, description="signal kind"),
    week: date | None = Query(None, description="the Monday of a week (local dates)", json_schema_extra=DAY),
    status: str | None = Query(None, max_length=20, description="open, in_review, decided, closed or overdue"),
    severity: str | None = Query(None, max_length=20),
    province: str | None = Query(None, max_length=50),
    certificate_type: str | None = Query(None, max_length=30),
    start: date | None = Query(None, description="raised on or after (local date)", json_schema_extra=DAY),
    end: date | None = Query(None, description="raised on or before (local date)", json_schema_extra=DAY),
    page: int = Query(1, ge=1, le=10_000),
    lang: Lang = None,
    remembered: Remembered = None,
) -> HTMLResponse:
    """The risk events behind a chart's segment or a figure, filtered, newest first, a hundred a page."""
    filters = dashboard.Filters(kind or None, week, status or None, severity or None, province or None,
                                certificate_type or None, start, end)  # fmt: skip
    words, base, switch = _page(request, lang, remembered)
    found = await dashboard.event_list(session, filters, page, datetime.now(dashboard.LOCAL).date())
    body = dashboard.render("events.html.j2", words, base, switch, filters=filters, events=found[: dashboard.PAGE],
                            more=len(found) > dashboard.PAGE, page=page, statuses=dashboard.STATUSES)  # fmt: skip
    return _html(body, lang)


@router.get("/dashboard/events/{risk_event_id}", response_class=HTMLResponse, responses=errors(404))
async def get_dashboard_event(
    request: Request, risk_event_id: uuid.UUID, session: ReadSession, lang: Lang = None, remembered: Remembered = None
) -> HTMLResponse:
    """One risk event: its signal, match explanation, clocks, measures and the notifications sent."""
    words, base, switch = _page(request, lang, remembered)
    shown = await dashboard.event_page(session, risk_event_id)  # raises NotFound (404)
    return _html(dashboard.render("event.html.j2", words, base, switch, **shown), lang)


@router.get("/dashboard/organisations/{organisation_id}", response_class=HTMLResponse, responses=errors(404))
async def get_dashboard_organisation(
    request: Request, organisation_id: uuid.UUID, session: ReadSession, lang: Lang = None, remembered: Remembered = None
) -> HTMLResponse:
    """One organisation: the certificates reporting knows, its signals and risk events over time, measures."""
    words, base, switch = _page(request, lang, remembered)
    today = datetime.now(dashboard.LOCAL).date()
    shown = await dashboard.organisation_page(session, words, organisation_id, today)  # raises NotFound (404)
    return _html(dashboard.render("organisation.html.j2", words, base, switch, **shown), lang)
