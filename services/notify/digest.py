"""The reviewers' daily digest: every risk event not yet closed, past or near its decision deadline first.

notify keeps its own list of open events (from `rules.risk-event-raised.v1` and `…-updated.v1`) and, once
a day at `digest_at` local time, mails it to each address in `digest_recipients`, once per address and day.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.channels import Channel, DeliveryError, send_with_retries
from services.notify.models import Digest, OpenEvent
from services.notify.settings import NotifySettings
from services.notify.templates import render
from shared.contracts import deterministic_id
from shared.contracts.rules import (
    Clock,
    ClockKind,
    ClockState,
    RiskEventRaised,
    RiskEventStatus,
    RiskEventUpdated,
    RiskEventUpdatedV2,
    next_due,
)
from shared.db.session import Database
from shared.labels import DEFAULT_LANGUAGE, label
from shared.logging import mask_email
from shared.observability import BACKGROUND
from shared.waiting import sleep_unless

log = logging.getLogger(__name__)
DUE_SOON = timedelta(days=3)
CLAIM_LEASE = timedelta(minutes=10)  # a `sending` digest older than this was left by a run that died


async def raised(session: AsyncSession, events: Sequence[RiskEventRaised]) -> None:
    """List new risk events for the reviewers' digest (one statement; an event listed already stays as it is)."""
    rows = [
        {
            "risk_event_id": e.risk_event_id,
            "organisation_name": e.organisation_name,
            "title": e.title,
            "severity": e.severity.value,
            "status": "open",
            "decision_due": e.decision_due,
            "raised_at": e.raised_at,
            **_first_clock(getattr(e, "clocks", [])),
        }
        for e in events
    ]
    if rows:
        await session.execute(insert(OpenEvent).values(rows).on_conflict_do_nothing(index_elements=["risk_event_id"]))


async def updated(session: AsyncSession, event: RiskEventUpdated) -> None:
    if event.status is RiskEventStatus.CLOSED:
        await session.execute(delete(OpenEvent).where(OpenEvent.risk_event_id == event.risk_event_id))
        return
    row = await session.get(OpenEvent, event.risk_event_id)
    if row is not None:
        row.status, row.severity = event.status.value, event.severity.value
        if isinstance(event, RiskEventUpdatedV2):  # every clock after the change: the first may have ended
            for column, value in _first_clock(event.clocks).items():
                setattr(row, column, value)


def _first_clock(clocks: list[Clock]) -> dict[str, object]:
    """The running clock due first, as the digest shows it: its due date, kind and legal basis."""
    due = next_due(clocks)
    first = next((c for c in clocks if c.due_on == due and c.ended_on is None and c.state is not ClockState.VOID), None)
    if first is None:
        return {"clock_due": None, "clock_kind": None, "clock_basis": None}
    basis = f"{first.basis.document} {first.basis.article}"
    return {"clock_due": first.due_on, "clock_kind": first.kind.value, "clock_basis": basis}


@dataclass(frozen=True)
class Line:
    event: OpenEvent
    due: date | None  # the earlier of the statutory clock due first and the decision deadline
    flag: str  # overdue | due_soon | ""
    clock: str  # the words for that clock, in the digest's language ("" when none runs)


async def lines(session: AsyncSession, today: date, language: str = DEFAULT_LANGUAGE) -> list[Line]:
    """Open events, past their deadline first, then by deadline (none last), then newest. An event's deadline
    is the earlier of its first running statutory clock (v2 events) and its decision deadline."""
    rows = (await session.scalars(select(OpenEvent))).all()

    def due_of(e: OpenEvent) -> date | None:
        return min((d for d in (e.clock_due, e.decision_due) if d is not None), default=None)

    def order(e: OpenEvent) -> tuple[date, float]:
        return (due_of(e) or date.max, -e.raised_at.timestamp())

    found = []
    for e in sorted(rows, key=order):
        due = due_of(e)
        flag = "overdue" if due and due < today else "due_soon" if due and due <= today + DUE_SOON else ""
        clock = label(e.clock_kind, language, ClockKind) if e.clock_kind else ""
        found.append(Line(e, due, flag, clock))
    return found


async def send(db: Database, settings: NotifySettings, email: Channel, today: date) -> int:
    """Today's digest to every recipient that has not had it; returns how many went.

    No transaction is open while a message is sent: (1) one transaction lists the open events and claims
    a `sending` row per recipient (the row's id is the idempotency key); (2) each message goes out with no
    transaction; (3) each outcome is marked in a transaction of its own. A crash between (2) and (3) leaves
    the row `sending`, and the next run sends it again with the same key (the one window SMTP leaves)."""
    async with db.transaction() as session:
        listed = await lines(session, today, settings.digest_language)
        pending = await _claim(session, settings.digest_to(), today, len(listed))
    message = render(
        "digest",
        settings.digest_language,
        lines=listed,
        day=today.isoformat(),
        overdue=sum(1 for line in listed if line.flag == "overdue"),
        due_soon=sum(1 for line in listed if line.flag == "due_soon"),
    )
    sent = 0
    for digest_id, recipient in pending:
        masked = mask_email(recipient)
        status, error = "delivered", None
        try:
            await send_with_retries(email, recipient, message, str(digest_id), settings, masked)
            sent += 1
        except DeliveryError as exc:
            status, error = "failed", str(exc)
        async with db.transaction() as session:
            await session.execute(
                update(Digest).where(Digest.id == digest_id).values(status=status, error=error, sent_at=func.now())
            )
        BACKGROUND.labels("notify", "digest", status).inc()
        log.info("digest of %s (%d open events) to %s: %s", today, len(listed), masked, status)
    return sent


async def _claim(session: AsyncSession, recipients: list[str], today: date, events: int) -> list[tuple[uuid.UUID, str]]:
    """The recipients still owed today's digest: a new `sending` row for each that has none, and those left
    `sending` for longer than `CLAIM_LEASE` by a run that died before marking them (another replica's
    claim in hand is left alone)."""
    owed = []
    for recipient in recipients:
        digest_id = deterministic_id("digest", today, recipient)
        row = {
            "id": digest_id,
            "day": today,
            "recipient_masked": mask_email(recipient),
            "events": events,
            "status": "sending",
        }
        new = insert(Digest).values(**row).on_conflict_do_nothing(index_elements=["id"]).returning(Digest.id)
        stale = (
            update(Digest)
            .where(Digest.id == digest_id, Digest.status == "sending", Digest.sent_at < func.now() - CLAIM_LEASE)
            .values(sent_at=func.now())
            .returning(Digest.id)
        )
        if await session.scalar(new) is not None or await session.scalar(stale) is not None:
            owed.append((digest_id, recipient))
    return owed


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
                await send(db, settings, email, today)
            except Exception:
                log.exception("the reviewers' digest failed; trying again in a minute")
                await sleep_unless(stop, 60)
                continue
        wait = (next_run(datetime.now(UTC), settings.digest_at, settings.timezone) - datetime.now(UTC)).total_seconds()
        await sleep_unless(stop, max(wait, 1.0))
