"""HTTP entrypoints of reporting."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Cookie, Depends, Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.reporting import dashboard, report, service, sessions
from services.reporting.service import LOCAL
from services.reporting.settings import ReportingSettings
from shared.auth import DEVELOPER, RESPONSES, Action, Actor, allowed, authenticate
from shared.db.session import ReadSession
from shared.dependencies import RuntimeDep, settings_of
from shared.errors import CertwatchError, Unauthorized
from shared.responses import errors

Settings = Annotated[ReportingSettings, Depends(settings_of(ReportingSettings))]
_bearer = HTTPBearer(auto_error=False, description="a token from `certwatch rules token-create`")


async def page_caller(
    request: Request,
    runtime: RuntimeDep,
    settings: Settings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """Who reads a page: the bearer token as on every route, else the login cookie (sessions.py), checked in a
    short session of its own. A browser with neither is sent to the login page; anything else gets the 401."""
    async with runtime.db.sessions() as session:
        if credentials is not None:
            return await authenticate(session, settings, credentials.credentials)
        value = request.cookies.get(sessions.SESSION_COOKIE)
        hashed = sessions.opened(sessions.key(settings), value) if value else None
        found = await sessions.actor(session, settings, hashed) if hashed else None
    if found is not None:
        request.state.logout_csrf = sessions.logout_token(sessions.key(settings), value or "")
        return found
    if settings.auth_off_for_development:
        return DEVELOPER
    if "text/html" in request.headers.get("accept", ""):
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        login = f"{request.scope.get('root_path', '')}/login?{urlencode({'next': here})}"
        raise HTTPException(303, "log in first", headers={"Location": login})
    raise Unauthorized("this page needs a bearer token, or the login cookie from /login (certwatch rules token-create)")


def page_allowed(action: Action) -> Any:
    """`shared.auth.allowed` for the HTML pages: the same roles, with the login cookie accepted too."""

    async def check(actor: Annotated[Actor, Depends(page_caller)]) -> Actor:
        actor.may(action)
        return actor

    return Depends(check)


PAGE_RESPONSES = RESPONSES | {303: {"description": "a browser that has not logged in: to the login page"}}
router = APIRouter()  # what main.py mounts: the JSON API (bearer only), the pages (bearer or cookie), the login
api = APIRouter(tags=["reporting"], responses=RESPONSES, dependencies=[allowed(Action.READ)])
pages = APIRouter(tags=["dashboard"], responses=PAGE_RESPONSES, dependencies=[page_allowed(Action.READ)])
sign_in = APIRouter(tags=["dashboard"])
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


@api.get("/summary")
async def get_summary(session: ReadSession) -> dict[str, object]:
    """Certificates screened, risk events by severity, province, kind and certificate type, measures taken."""
    return await service.summary(session)


@api.get("/risk-events/count")
async def count_risk_events(session: ReadSession) -> dict[str, int]:
    """The number of risk events raised so far."""
    summary = await service.summary(session)
    return {"risk_events_raised": int(summary["risk_events_raised"])}  # type: ignore[call-overload]


@api.get("/reports/regulator", response_model=None, responses=REPORT_FORMATS)
async def regulator_report(
    session: ReadSession,
    start: date | None = Query(None, description="first day (default: 29 days before end)", json_schema_extra=DAY),
    end: date | None = Query(None, description="last day, included (default: today)", json_schema_extra=DAY),
    format: Literal["xlsx", "csv", "json"] = Query("xlsx", description="xlsx: every sheet; csv: the events raised"),
) -> Response | dict[str, object]:
    """The regulator's report for a period: events raised and decided, certificates suspended, withdrawn
    or restored, events open past their decision deadline, and the statutory clocks' timeliness."""
    return await _report(session, start, end, format)


async def _report(
    session: ReadSession, start: date | None, end: date | None, format: str
) -> Response | dict[str, object]:
    first, last = report.period(start, end)
    built = await report.build(session, first, last)
    name = f"certwatch-report-{first.isoformat()}-{last.isoformat()}"
    if format == "json":
        return {
            "start": first,
            "end": last,
            "summary": [{"section": s, "item": i, "count": n} for s, i, n in built.summary()],
            "timeliness": [asdict(line) for line in built.timeliness],
        }
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
    # the layout's logout form when the page was opened with the login cookie
    words = dashboard.Words(dashboard.language(lang, remembered), getattr(request.state, "logout_csrf", None))
    switch = request.url.include_query_params(lang="zh-CN" if words.language == "en" else "en")
    return words, str(request.scope.get("root_path", "")), f"{switch.path}?{switch.query}"


def _html(body: str, lang: str | None) -> HTMLResponse:
    response = HTMLResponse(body)
    if lang:
        response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="lax")
    return response


@pages.get("/dashboard", response_class=HTMLResponse)
async def get_dashboard(
    request: Request,
    session: ReadSession,
    start: date | None = Query(None, description="first day (default: 29 days before end)", json_schema_extra=DAY),
    end: date | None = Query(None, description="last day, included (default: today)", json_schema_extra=DAY),
    lang: Lang = None,
    remembered: Remembered = None,
) -> HTMLResponse:
    """The dashboard: a period's figures and charts, the last 12 months' trends, timeliness and feed freshness."""
    today = datetime.now(LOCAL).date()  # the dashboard's days are Asia/Shanghai's, its tallies too
    first, last = report.period(start, end or today)
    words, base, switch = _page(request, lang, remembered)
    shown = await dashboard.overview(session, words, first, last, today, base)
    body = dashboard.render("dashboard.html.j2", words, base, switch, start=first, end=last, today=today, **shown)
    return _html(body, lang)


@pages.get("/dashboard/events", response_class=HTMLResponse)
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
    filters = dashboard.Filters(
        kind or None, week, status or None, severity or None, province or None, certificate_type or None, start, end
    )
    words, base, switch = _page(request, lang, remembered)
    found = await dashboard.event_list(session, filters, page, datetime.now(LOCAL).date())
    body = dashboard.render(
        "events.html.j2",
        words,
        base,
        switch,
        filters=filters,
        events=found[: dashboard.PAGE],
        more=len(found) > dashboard.PAGE,
        page=page,
        statuses=dashboard.STATUSES,
    )
    return _html(body, lang)


@pages.get("/dashboard/events/{risk_event_id}", response_class=HTMLResponse, responses=errors(404))
async def get_dashboard_event(
    request: Request, risk_event_id: uuid.UUID, session: ReadSession, lang: Lang = None, remembered: Remembered = None
) -> HTMLResponse:
    """One risk event: its signal, match explanation, clocks, measures and the notifications sent."""
    words, base, switch = _page(request, lang, remembered)
    shown = await dashboard.event_page(session, risk_event_id)  # raises NotFound (404)
    return _html(dashboard.render("event.html.j2", words, base, switch, **shown), lang)


@pages.get("/dashboard/organisations/{organisation_id}", response_class=HTMLResponse, responses=errors(404))
async def get_dashboard_organisation(
    request: Request, organisation_id: uuid.UUID, session: ReadSession, lang: Lang = None, remembered: Remembered = None
) -> HTMLResponse:
    """One organisation: the certificates reporting knows, its signals and risk events over time, measures."""
    words, base, switch = _page(request, lang, remembered)
    today = datetime.now(LOCAL).date()
    shown = await dashboard.organisation_page(session, words, organisation_id, today)  # raises NotFound (404)
    return _html(dashboard.render("organisation.html.j2", words, base, switch, **shown), lang)


@pages.get("/dashboard/report", response_model=None, responses=REPORT_FORMATS)
async def dashboard_report(
    session: ReadSession,
    start: date | None = Query(None, description="first day (default: 29 days before end)", json_schema_extra=DAY),
    end: date | None = Query(None, description="last day, included (default: today)", json_schema_extra=DAY),
    format: Literal["xlsx", "csv"] = Query("xlsx", description="xlsx: every sheet; csv: the events raised"),
) -> Response:
    """The regulator's report as the dashboard's page downloads it (the login cookie is accepted here, as on
    every page); the same file as `GET /reports/regulator`."""
    found = await _report(session, start, end, format)
    assert isinstance(found, Response)
    return found


# --- logging in from a browser (sessions.py) -----------------------------------------------------------------

LOGIN_FORMS = {"description": "the login page again, saying what was wrong", "content": {"text/html": {}}}


def _login_page(
    request: Request, lang: str | None, remembered: str | None, next_page: str, error: str | None, status: int = 200
) -> HTMLResponse:
    words, base, switch = _page(request, lang, remembered)
    nonce = secrets.token_urlsafe(32)
    body = dashboard.render("login.html.j2", words, base, switch, csrf=nonce, next_page=_local(next_page), error=error)
    response = _html(body, lang)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    sessions.set_cookie(response, request, sessions.LOGIN_COOKIE, nonce, max_age=3600)
    return response


def _local(next_page: str | None) -> str:
    """Where to go after logging in: one of the dashboard's own pages, never another site."""
    if next_page and next_page.startswith("/dashboard") and "//" not in next_page and "\\" not in next_page:
        return next_page
    return "/dashboard"


@sign_in.get("/login", response_class=HTMLResponse, responses=errors(422))
async def login_page(
    request: Request,
    next: str | None = Query(None, max_length=2000, description="the dashboard page to go to after"),
    lang: Lang = None,
    remembered: Remembered = None,
) -> HTMLResponse:
    """The dashboard's login page: a token entered once opens a session cookie for the dashboard's pages."""
    return _login_page(request, lang, remembered, next or "/dashboard", None)


@sign_in.post(
    "/login",
    response_class=HTMLResponse,
    status_code=303,
    responses={
        303: {"description": "logged in: to the page asked for"},
        400: LOGIN_FORMS,
        401: LOGIN_FORMS,
        403: LOGIN_FORMS,
        **errors(422),
    },
)
async def login(
    request: Request,
    runtime: RuntimeDep,
    settings: Settings,
    token: Annotated[str, Form(min_length=1, max_length=500, description="a token from certwatch rules token-create")],
    csrf: Annotated[str, Form(min_length=1, max_length=200, description="the login page's form token")],
    next: Annotated[str, Form(max_length=2000)] = "/dashboard",
    login_nonce: Annotated[str | None, Cookie(alias=sessions.LOGIN_COOKIE, include_in_schema=False)] = None,
    remembered: Remembered = None,
) -> Response:
    """Check the token as every route does; if its role may read the dashboard, set the session cookie
    (HttpOnly, SameSite=Strict, Secure over https) and go on to the page asked for."""
    if not sessions.same_origin(request) or not login_nonce or not secrets.compare_digest(csrf, login_nonce):
        return _login_page(request, None, remembered, next, "login_csrf", 400)
    try:
        async with runtime.db.sessions() as session:
            actor = await authenticate(session, settings, token)
        actor.may(Action.READ)
    except CertwatchError as exc:
        why = "login_denied" if exc.status_code == 403 else "login_unknown"
        return _login_page(request, None, remembered, next, why, exc.status_code)
    response = RedirectResponse(f"{request.scope.get('root_path', '')}{_local(next)}", status_code=303)
    value = sessions.make(sessions.key(settings), token)
    sessions.set_cookie(response, request, sessions.SESSION_COOKIE, value, max_age=sessions.SESSION_HOURS * 3600)
    sessions.drop_cookie(response, request, sessions.LOGIN_COOKIE)
    return response


@sign_in.post(
    "/logout", status_code=303, responses={303: {"description": "logged out: to the login page"}, **errors(400, 422)}
)
async def logout(
    request: Request,
    settings: Settings,
    csrf: Annotated[str, Form(min_length=1, max_length=200, description="the page's logout form token")],
    value: Annotated[str | None, Cookie(alias=sessions.SESSION_COOKIE, include_in_schema=False)] = None,
) -> Response:
    """End the browser's session (the cookie is dropped); the token itself stays valid."""
    expected = sessions.logout_token(sessions.key(settings), value or "")
    if not sessions.same_origin(request) or not value or not secrets.compare_digest(csrf, expected):
        raise HTTPException(400, "this logout form was not the dashboard's own")
    response = RedirectResponse(f"{request.scope.get('root_path', '')}/login", status_code=303)
    sessions.drop_cookie(response, request, sessions.SESSION_COOKIE)
    return response


router.include_router(api)
router.include_router(pages)
router.include_router(sign_in)
