"""HTTP entrypoints of the organisation's page: `/o/{token}` and its forms, `/o/s/{code}` (the SMS short link).

No bearer token: the signed link is the credential. A tampered, expired or unknown link is a 403 page, logged
(the token's first characters, never a contact); every request counts against its link's rate limit."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.notify.models import OrganisationLink
from services.notify.organisations import service
from services.notify.organisations.files import FileStore
from services.notify.organisations.links import LinkRefused, Links
from services.notify.organisations.service import MAX_FILES, PageView, RateLimit, Refused, Upload
from services.notify.organisations.words import RESPONSE_WORDS, WORDS, language
from services.notify.settings import NotifySettings
from services.notify.templates import measure_words
from shared.contracts.ingest import SignalKind
from shared.contracts.notify import ResponseKind, SelfReportProblem
from shared.db.session import ReadSession, WriteSession
from shared.dependencies import OutboxDep, provided
from shared.labels import label
from shared.responses import errors

log = logging.getLogger(__name__)
# Escape every page (*.html.j2): select_autoescape's default extensions (html, htm, xml) would match none of
# them, and a bulletin's text or an uploaded file's name would go into the page as HTML.
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "html.j2"], default_for_string=True, default=True),
)


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {}}}


PAGE: dict[int | str, dict[str, Any]] = {
    403: _html("the link was altered, has expired or is unknown (a page saying so)"),
    429: _html("too many requests through this link in a minute"),
    # A query parameter that does not fit: JSON, as every service answers it (its body is FastAPI's or
    # shared/nul.py's; a model here would be filed under the page's text/html).
    422: {"description": "a query parameter is wrong (named)", "content": {"application/json": {}}},
}
FORM: dict[int | str, dict[str, Any]] = {
    **PAGE,
    **errors(400),  # a form that cannot be parsed (multipart)
    303: {"description": "done (or sent before): back to the page"},
    413: _html("a file over the size limit"),
    415: _html("a file that is not a PDF or an image, judged by its content"),
    422: {**errors(422)[422], "content": {"application/json": {}, "text/html": {}}},  # a form field: the page says
}
ACTIONS = {"acknowledge": ResponseKind.ACKNOWLEDGED, "reply": ResponseKind.REPLIED, "dispute": ResponseKind.DISPUTED}
router = APIRouter(prefix="/o", tags=["organisations"])


@dataclass
class OrganisationPage:
    """What the page's routes share: the links, the file store, the rate limit and the settings."""

    settings: NotifySettings
    links: Links
    store: FileStore
    rate: RateLimit


Page = Annotated[OrganisationPage, Depends(provided("organisation_page"))]  # set by notify's main.py


def _render(template: str, lang: str, status: int = 200, **context: object) -> HTMLResponse:
    body = _env.get_template(template).render(lang=lang, t=WORDS[lang], **context)
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _refused(request: Request, lang: str, exc: LinkRefused | Refused, token: str = "") -> HTMLResponse:
    if isinstance(exc, LinkRefused):
        client = request.client.host if request.client else "?"
        log.warning("organisation page: %s link refused (token %.8s…, from %s)", exc.why, token, client)
        return _render("refused.html.j2", lang, 403, refusal=403, message=WORDS[lang][exc.why], back=None)
    words = WORDS[lang][exc.why].format(**exc.values)
    return _render("refused.html.j2", lang, exc.status, refusal=exc.status, message=words, back=f"/o/{token}")


async def _open(page: OrganisationPage, session: Any, token: str) -> OrganisationLink:
    link = await page.links.open(session, token)
    page.rate.check(link.id)
    return link


def _show(page: OrganisationPage, view: PageView, token: str, lang: str, done: bool) -> HTMLResponse:
    event = view.event
    return _render(
        "page.html.j2",
        lang,
        view=view,
        done=done,
        base=f"/o/{token}",
        key=lambda: str(uuid.uuid4()),
        kind_label=label(event.signal_kind, lang, SignalKind) if event else "",
        measure=measure_words(event.recommended_measure.value, lang) if event else "",
        problems=[p.value for p in SelfReportProblem],
        response_words=RESPONSE_WORDS[lang],
        contact_desk=page.settings.contact_desk,
    )


def _back(token: str, lang: str) -> RedirectResponse:
    return RedirectResponse(f"/o/{token}?lang={lang}&done=1", status_code=303)


@router.get("/s/{code}", response_class=RedirectResponse, status_code=303, responses=PAGE)
async def open_short_link(
    code: str,
    request: Request,
    session: ReadSession,
    page: Page,
    lang: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    """The short link an SMS carries: on to the signed page."""
    try:
        link = await page.links.by_code(session, code)
        page.rate.check(link.id)
    except (LinkRefused, Refused) as exc:
        return _refused(request, language(lang), exc, code)
    return RedirectResponse(f"/o/{link.token}", status_code=303)


@router.get("/{token}", response_class=HTMLResponse, responses=PAGE)
async def show_organisation_page(
    token: str,
    request: Request,
    session: ReadSession,
    page: Page,
    lang: Annotated[str | None, Query(max_length=10)] = None,
    done: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    """The organisation's page for one risk event: what was found, what is asked and by when, the certificates,
    and the forms (zh-CN; ?lang=en for English)."""
    lang_ = language(lang)
    try:
        link = await _open(page, session, token)
    except (LinkRefused, Refused) as exc:
        return _refused(request, lang_, exc, token)
    return _show(page, await service.view(session, link), token, lang_, bool(done))


@router.post("/{token}/responses", response_class=RedirectResponse, status_code=303, responses=FORM)
async def post_organisation_response(
    token: str,
    request: Request,
    session: WriteSession,
    page: Page,
    outbox: OutboxDep,
    action: Annotated[str | None, Form(max_length=20)] = None,
    text: Annotated[str | None, Form(max_length=10_000)] = None,
    idempotency_key: Annotated[str | None, Form(max_length=100)] = None,
    lang: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    """Acknowledge, reply with an explanation, or dispute the match (with the reason)."""
    lang_ = language(lang)
    try:
        link = await _open(page, session, token)
        if action not in ACTIONS:
            raise Refused(422, "text_required")
        view = await service.view(session, link)
        await service.respond(
            session,
            outbox,
            page.store,
            link,
            view,
            ACTIONS[action],
            text,
            [],
            idempotency_key,
        )
    except (LinkRefused, Refused) as exc:
        return _refused(request, lang_, exc, token)
    return _back(token, lang_)


@router.post("/{token}/evidence", response_class=RedirectResponse, status_code=303, responses=FORM)
async def post_organisation_evidence(
    token: str,
    request: Request,
    session: WriteSession,
    page: Page,
    outbox: OutboxDep,
    files: Annotated[list[UploadFile] | None, File()] = None,
    text: Annotated[str | None, Form(max_length=10_000)] = None,
    done: Annotated[str | None, Form(max_length=10)] = None,
    idempotency_key: Annotated[str | None, Form(max_length=100)] = None,
    lang: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    """Upload corrective-action evidence (PDF or images, each at most 10 MB, checked by content); `done` marks
    the corrective action completed, for a decision-maker to accept."""
    lang_ = language(lang)
    try:
        link = await _open(page, session, token)
        uploads = await _read(files or [], page.settings.evidence_max_bytes)
        kind = ResponseKind.CORRECTIVE_ACTION_DONE if done else ResponseKind.EVIDENCE_UPLOADED
        view = await service.view(session, link)
        await service.respond(session, outbox, page.store, link, view, kind, text, uploads, idempotency_key)
    except (LinkRefused, Refused) as exc:
        return _refused(request, lang_, exc, token)
    return _back(token, lang_)


@router.post("/{token}/self-report", response_class=RedirectResponse, status_code=303, responses=FORM)
async def post_self_report(
    token: str,
    request: Request,
    session: WriteSession,
    page: Page,
    outbox: OutboxDep,
    problem: Annotated[str | None, Form(max_length=40)] = None,
    description: Annotated[str | None, Form(max_length=10_000)] = None,
    product: Annotated[str | None, Form(max_length=1000)] = None,
    occurred_on: Annotated[str | None, Form(max_length=20)] = None,
    idempotency_key: Annotated[str | None, Form(max_length=100)] = None,
    lang: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    """自查自纠: report a problem of one of the four kinds; it becomes a signal of kind self_report."""
    lang_ = language(lang)
    try:
        link = await _open(page, session, token)
        view = await service.view(session, link)
        await service.self_report(
            session,
            outbox,
            link,
            view,
            problem,
            description,
            product,
            occurred_on,
            idempotency_key,
        )
    except (LinkRefused, Refused) as exc:
        return _refused(request, lang_, exc, token)
    return _back(token, lang_)


async def _read(files: list[UploadFile], limit: int) -> list[Upload]:
    """Each file's bytes, refusing one over `limit` without reading past it."""
    files = [f for f in files if f.filename or f.size]
    if len(files) > MAX_FILES:
        raise Refused(422, "too_many", limit=MAX_FILES)
    uploads = []
    for file in files:
        data = await file.read(limit + 1)
        if len(data) > limit:
            raise Refused(413, "too_large", limit=limit // (1024 * 1024) or 1)
        uploads.append(Upload(file.filename or "", data))
    return uploads
