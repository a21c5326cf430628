"""What an organisation can do on its page, and the page's copy of its risk events. Each act is stored once
(its id: uuid5 of the link and the form's idempotency key) and published through the outbox in the request's
transaction: `notify.organisation-responded.v1` (rules puts it on the audit trail) or `notify.self-reported.v1`
(rules screens it as a signal of kind self_report)."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.models import EventPage, OrganisationContacts, OrganisationLink, OrganisationResponse
from services.notify.organisations.files import FileStore, evidence_key, sniff
from services.notify.organisations.links import Links
from services.notify.settings import NotifySettings
from shared.contracts import Topic, deterministic_id
from shared.contracts.notify import (
    EvidenceFile,
    OrganisationResponded,
    ResponseKind,
    SelfReported,
    SelfReportProblem,
)
from shared.contracts.rules import RiskEventRaisedV2, RiskEventUpdatedV2
from shared.db.results import affected
from shared.kafka.outbox import Outbox

log = logging.getLogger(__name__)
MAX_FILES = 10


class Refused(Exception):
    """An act the page refuses, with the status and the words (a key of the page's words) that say why."""

    def __init__(self, status: int, why: str, **values: object) -> None:
        super().__init__(why)
        self.status, self.why, self.values = status, why, values


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


@dataclass
class RateLimit:
    """At most `per_minute` requests per link in any minute, in this process (a sliding window)."""

    per_minute: int
    _seen: dict[uuid.UUID, deque[float]] = field(default_factory=dict)

    def check(self, link_id: uuid.UUID) -> None:
        now = time.monotonic()
        window = self._seen.setdefault(link_id, deque())
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= self.per_minute:
            raise Refused(429, "rate_limited")
        window.append(now)
        if len(self._seen) > 10_000:  # forget idle links
            self._seen = {k: v for k, v in self._seen.items() if v and v[-1] > now - 60}


@dataclass(frozen=True)
class PageView:
    link: OrganisationLink
    organisation_name: str
    event: RiskEventRaisedV2 | None
    status: str | None
    clocks: list[dict[str, object]]
    responses: list[OrganisationResponse]


def page_links(settings: NotifySettings) -> Links:
    """The signed links to organisations' pages that notify's alerts carry (issued as they are sent)."""
    return Links(settings)


async def keep_raised(session: AsyncSession, events: list[RiskEventRaisedV2]) -> None:
    """Keep what the organisations' pages show of new risk events (one statement; a kept one stays)."""
    rows = [
        {
            "risk_event_id": e.risk_event_id,
            "organisation_id": e.organisation_id,
            "event": e.model_dump(mode="json"),
            "status": "open",
            "clocks": [c.model_dump(mode="json") for c in e.clocks],
        }
        for e in events
    ]
    if rows:
        await session.execute(insert(EventPage).values(rows).on_conflict_do_nothing())


async def keep_updated(session: AsyncSession, event: RiskEventUpdatedV2) -> None:
    page = await session.get(EventPage, event.risk_event_id, with_for_update=True)
    if page is not None:
        page.status, page.updated_at = event.status.value, event.updated_at
        page.clocks = [c.model_dump(mode="json") for c in event.clocks]


async def view(session: AsyncSession, link: OrganisationLink) -> PageView:
    page = await session.get(EventPage, link.risk_event_id) if link.risk_event_id else None
    event = RiskEventRaisedV2.model_validate(page.event) if page else None
    contacts = await session.get(OrganisationContacts, link.organisation_id)
    name = event.organisation_name if event else (contacts.name if contacts else "")
    stmt = select(OrganisationResponse).where(OrganisationResponse.link_id == link.id)
    responses = list((await session.scalars(stmt.order_by(OrganisationResponse.created_at))).all())
    return PageView(link, name, event, page.status if page else None, page.clocks if page else [], responses)


def response_id(link: OrganisationLink, idempotency_key: str | None) -> uuid.UUID:
    if not idempotency_key or len(idempotency_key) > 100:
        raise Refused(422, "no_key")
    return deterministic_id("organisation-response", link.id, idempotency_key)


async def respond(
    session: AsyncSession,
    outbox: Outbox,
    store: FileStore,
    link: OrganisationLink,
    view_: PageView,
    kind: ResponseKind,
    text: str | None,
    uploads: list[Upload],
    idempotency_key: str | None,
) -> bool:
    """Record and publish one act on the event the link is about; False when this form was sent before."""
    rid = response_id(link, idempotency_key)
    if link.risk_event_id is None:
        raise Refused(422, "no_event")
    text = (text or "").strip() or None
    if kind in (ResponseKind.REPLIED, ResponseKind.DISPUTED) and not text:
        raise Refused(422, "text_required")
    if text and len(text) > 5000:
        raise Refused(422, "text_too_long")
    if kind is ResponseKind.EVIDENCE_UPLOADED and not uploads:
        raise Refused(422, "file_required")
    if await session.get(OrganisationResponse, rid) is not None:
        return False  # the same form again: already recorded and published
    files = [await _keep(store, link, rid, n, upload) for n, upload in enumerate(uploads)]
    stored = [f.model_dump(mode="json") for f in files]
    if not await _record(session, rid, link, kind.value, text, stored):
        return False
    responded = OrganisationResponded(
        response_id=rid,
        organisation_id=link.organisation_id,
        organisation_name=view_.organisation_name[:300],
        risk_event_id=link.risk_event_id,
        kind=kind,
        text=text,
        files=files,
        link_id=link.id,
        responded_at=datetime.now(UTC),
    )
    await outbox.add(session, Topic.ORGANISATION_RESPONDED, str(link.organisation_id), responded, event_id=rid)
    log.info(
        "organisation %s: %s on risk event %s (%d files)",
        link.organisation_id,
        kind.value,
        link.risk_event_id,
        len(files),
    )
    return True


async def self_report(
    session: AsyncSession,
    outbox: Outbox,
    link: OrganisationLink,
    view_: PageView,
    problem: str | None,
    description: str | None,
    product: str | None,
    occurred_on: str | None,
    idempotency_key: str | None,
) -> bool:
    """自查自纠: publish a signal of kind self_report for rules to screen; False when this form was sent before."""
    rid = response_id(link, idempotency_key)
    try:
        kind = SelfReportProblem(problem or "")
    except ValueError as exc:
        raise Refused(422, "problem_required") from exc
    description = (description or "").strip()
    if not description or len(description) > 5000:
        raise Refused(422, "description_required")
    try:
        day = date.fromisoformat(occurred_on) if occurred_on else None
    except ValueError as exc:
        raise Refused(422, "bad_date") from exc
    product = (product or "").strip()[:300] or None
    detail = f"{kind.value}: {description}"
    if not await _record(session, rid, link, "self_report", detail, []):
        return False
    report = SelfReported(
        report_id=rid,
        organisation_id=link.organisation_id,
        organisation_name=view_.organisation_name[:300] or "?",
        problem=kind,
        description=description,
        product=product,
        occurred_on=day,
        risk_event_id=link.risk_event_id,
        link_id=link.id,
        reported_at=datetime.now(UTC),
    )
    await outbox.add(session, Topic.SELF_REPORTED, str(link.organisation_id), report, event_id=rid)
    log.info("organisation %s: self-report %s (%s)", link.organisation_id, rid, kind.value)
    return True


async def _record(
    session: AsyncSession, rid: uuid.UUID, link: OrganisationLink, kind: str, text: str | None, files: list[Any]
) -> bool:
    values = {
        "id": rid,
        "link_id": link.id,
        "organisation_id": link.organisation_id,
        "risk_event_id": link.risk_event_id,
        "kind": kind,
        "text": text,
        "files": files,
    }
    result = await session.execute(insert(OrganisationResponse).values(**values).on_conflict_do_nothing())
    return bool(affected(result))


async def _keep(store: FileStore, link: OrganisationLink, rid: uuid.UUID, n: int, upload: Upload) -> EvidenceFile:
    found = sniff(upload.data[:16])
    if found is None:
        raise Refused(415, "bad_type", name=upload.filename[:100])
    content_type, extension = found
    file_id = deterministic_id("evidence", rid, n)
    await store.put(
        evidence_key(link.organisation_id, link.risk_event_id or "general", upload.data, extension), upload.data
    )
    name = upload.filename.replace("/", "_").replace("\\", "_")[:200] or f"{file_id}{extension}"
    return EvidenceFile(
        file_id=file_id,
        filename=name,
        content_type=content_type,
        size=len(upload.data),
        sha256=hashlib.sha256(upload.data).hexdigest(),
    )
