"""The reviewers' daily digest: every risk event not yet closed, past or near its decision deadline first.

notify keeps its own list of open events (from `rules.risk-event-raised.v1` and `…-updated.v1`) and, once
a day at `digest_at` local time, mails it to each address in `digest_recipients`, once per address and day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.channels import Channel, DeliveryError, send_with_retries
from services.notify.models import Digest, OpenEvent
from services.notify.settings import NotifySettings
from services.notify.templates import render
from shared.contracts import deterministic_id
from shared.contracts.rules import RiskEventRaised, RiskEventStatus, RiskEventUpdated
from shared.db.session import Database
from shared.logging import mask_email
from shared.observability import BACKGROUND

log = logging.getLogger(__name__)
DUE_SOON = timedelta(days=3)


async def raised(session: AsyncSession, event: RiskEventRaised) -> None:
    values = {"risk_event_id": event.risk_event_id, "organisation_name": event.organisation_name,
              "title": event.title, "severity": event.severity.value, "status": "open",
              "decision_due": event.decision_due, "raised_at": event.raised_at}  # fmt: skip
    await session.execute(insert(OpenEvent).values(**values).on_conflict_do_nothing(index_elements=["risk_event_id"]))


async def updated(session: AsyncSession, event: RiskEventUpdated) -> None:
    if event.status is RiskEventStatus.CLOSED:
        await session.execute(delete(OpenEvent).where(OpenEvent.risk_event_id == event.risk_event_id))
        return
    row = await session.get(OpenEvent, event.risk_event_id)
    if row is not None:
        row.status, row.severity = event.status.value, event.severity.value


@dataclass(frozen=True)
class Line:
    event: OpenEvent
    flag: str  # overdue | due_soon | ""


async def lines(session: AsyncSession, today: date) -> list[Line]:
    """Open events, past their deadline first, then by deadline (none last), then newest."""
    rows = (await session.scalars(select(OpenEvent))).all()
    far = date.max

    def order(e: OpenEvent) -> tuple[date, float]:
        return (e.decision_due or far, -e.raised_at.timestamp())

    found = []
    for e in sorted(rows, key=order):
        due = e.decision_due
        flag = "overdue" if due and due < today else "due_soon" if due and due <= today + DUE_SOON else ""
        found.append(Line(e, flag))
    return found


async def send(session: AsyncSession, settings: NotifySettings, email: Channel, today: date) -> int:
    """Today's digest to every recipient that has not had it; returns how many went."""
    listed = await lines(session, today)
    sent = 0
    for recipient in settings.digest_to():
        digest_id = deterministic_id("digest", today, recipient)
        if await session.get(Digest, digest_id) is not None:
            continue
        message = render(
            "digest", settings.digest_language, lines=listed, day=today.isoformat(),
            overdue=sum(1 for line in listed if line.flag == "overdue"),
            due_soon=sum(1 for line in listed if line.flag == "due_soon"),
        )  # fmt: skip
        masked = mask_email(recipient)
        row = Digest(id=digest_id, day=today, recipient_masked=masked, events=len(listed))
        try:
            await send_with_retries(email, recipient, message, str(digest_id), settings, masked)
            row.status = "delivered"
            sent += 1
        except DeliveryError as exc:
            row.status, row.error = "failed", str(exc)
        session.add(row)
        BACKGROUND.labels("notify", "digest", row.status).inc()
        log.info("digest of %s (%d open events) to %s: %s", today, len(listed), masked, row.status)
    return sent


def next_run(now: datetime, at: str, zone: str) -> datetime:
    """The next `at` (HH:MM) in `zone` after `now`."""
    local = now.astimezone(ZoneInfo(zone))
    when = datetime.combine(local.date(), time.fromisoformat(at), tzinfo=ZoneInfo(zone))
    return when if when > local else when + timedelta(days=1)


async def run(settings: NotifySettings, db: Database, email: Channel, stop: asyncio.Event) -> None:
    """Sleep until `digest_at`, send, repeat (the service's background loop; idle without recipients).
    After a restart past `digest_at`, today's digest goes at once if it has not gone yet. Closes `email`."""
    if not settings.digest_to():
        await email.close()
        return
    try:
        await _every_day(settings, db, email, stop)
    finally:
        await email.close()


async def _every_day(settings: NotifySettings, db: Database, email: Channel, stop: asyncio.Event) -> None:
    zone = ZoneInfo(settings.timezone)
    while not stop.is_set():
        now = datetime.now(UTC)
        today = now.astimezone(zone).date()
        due_today = datetime.combine(today, time.fromisoformat(settings.digest_at), tzinfo=zone)
        if now >= due_today:
            try:
                async with db.transaction() as session:
                    await send(session, settings, email, today)
            except Exception:
                log.exception("the reviewers' digest failed; trying again in a minute")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=60)
                continue
        wait = (next_run(datetime.now(UTC), settings.digest_at, settings.timezone) - datetime.now(UTC)).total_seconds()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(wait, 1.0))
