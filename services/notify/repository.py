"""Every query of notify."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Table, Uuid, delete, func, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.notify.models import Delivery, OrganisationContacts, PendingAlert

T = TypeVar("T")


async def save_contacts(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Keep each organisation's newest revision only, for many organisations in one statement (rows of
    organisation_id, name, contacts, revision): an older event arriving late changes nothing."""
    newest: dict[uuid.UUID, dict[str, Any]] = {}
    for row in rows:  # one row per organisation: a statement may not update the same row twice
        kept = newest.get(row["organisation_id"])
        if kept is None or row["revision"] > kept["revision"]:
            newest[row["organisation_id"]] = row
    for chunk in _chunks(list(newest.values())):
        stmt = insert(OrganisationContacts).values(chunk)
        stmt = stmt.on_conflict_do_update(
            index_elements=["organisation_id"],
            set_={"name": stmt.excluded.name, "contacts": stmt.excluded.contacts, "revision": stmt.excluded.revision},
            where=OrganisationContacts.revision < stmt.excluded.revision,
        )
        await session.execute(stmt)


def _chunks(rows: list[T], size: int = 1000) -> list[list[T]]:
    """Rows in statements of `size`: a multi-row INSERT carries a bind parameter per value (PostgreSQL
    takes at most 32,767)."""
    return [rows[i : i + size] for i in range(0, len(rows), size)]


async def contacts_of(session: AsyncSession, organisation_ids: set[uuid.UUID]) -> dict[uuid.UUID, OrganisationContacts]:
    """The known contacts of these organisations, by organisation (one query)."""
    if not organisation_ids:
        return {}
    stmt = select(OrganisationContacts).where(OrganisationContacts.organisation_id.in_(organisation_ids))
    return {row.organisation_id: row for row in (await session.scalars(stmt)).all()}


async def recorded(session: AsyncSession, delivery_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these messages are recorded already (sent, or waiting to be): their ids are idempotency keys."""
    if not delivery_ids:
        return set()
    return set((await session.scalars(select(Delivery.id).where(Delivery.id.in_(delivery_ids)))).all())


async def queue(session: AsyncSession, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Record messages to send (rows with the same keys); returns the ids recorded now, leaving out those
    recorded already under the same id (the idempotency key)."""
    queued: set[uuid.UUID] = set()
    for chunk in _chunks(rows):
        stmt = (
            insert(Delivery)
            .values([{"status": "queued", **row} for row in chunk])
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(Delivery.id)
        )
        queued.update((await session.scalars(stmt)).all())
    return queued


CLAIMED = (
    Delivery.id,
    Delivery.organisation_id,
    Delivery.risk_event_id,
    Delivery.channel,
    Delivery.recipient,
    Delivery.recipient_masked,
    Delivery.template,
    Delivery.subject,
    Delivery.body,
    Delivery.caused_by,
    Delivery.correlation_id,
    (Delivery.send_after > Delivery.created_at).label("deferred"),
)


async def claim(
    conn: AsyncConnection,
    token: uuid.UUID,
    limit: int,
    lease: timedelta,
    now: datetime | None = None,
    channel: str | None = None,
) -> list[dict[str, Any]]:
    """Claim up to `limit` queued messages (of `channel`, or of any) due by `now` (the database's clock by
    default) whose earlier claim, if any, has lapsed: each is this sender's until `now + lease`. One
    statement; SKIP LOCKED: replicas claiming at the same moment take different rows."""
    moment: Any = now if now is not None else func.now()
    due = (
        select(Delivery.id)
        .where(Delivery.status == "queued", Delivery.send_after <= moment)
        .where(or_(Delivery.claimed_until.is_(None), Delivery.claimed_until <= moment))
        .where(*([Delivery.channel == channel] if channel is not None else []))
        .order_by(Delivery.send_after)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    stmt = (
        update(Delivery)
        .where(Delivery.id.in_(due.scalar_subquery()))
        .values(claim=token, claimed_until=moment + lease)
        .returning(*CLAIMED)
    )
    return [row._asdict() for row in await conn.execute(stmt)]


@dataclass(frozen=True)
class OutboxRow:
    """An event for the outbox, its envelope made by shared.kafka.outbox.Outbox.envelope."""

    event_id: uuid.UUID
    topic: str
    key: str
    envelope: dict[str, Any]


@dataclass(frozen=True)
class Mark:
    """How a claimed message went."""

    status: str  # delivered | failed
    attempts: int
    provider_id: str | None = None
    error: str | None = None


async def mark(
    conn: AsyncConnection, delivery_id: uuid.UUID, token: uuid.UUID, outcome: Mark, outbox: Table, event: OutboxRow
) -> bool:
    """Record how a claimed message went, forget its recipient, and queue its event in the outbox, in ONE
    statement (an UPDATE in a WITH, then an INSERT of what it returned): both or neither, in one round trip.
    False when the claim is no longer this sender's (it lapsed and another sender took the message)."""
    marked = (
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.claim == token, Delivery.status == "queued")
        .values(
            status=outcome.status,
            attempts=outcome.attempts,
            provider_id=outcome.provider_id,
            error=outcome.error,
            recipient=None,
            claimed_until=None,
            finished_at=func.now(),
        )
        .returning(Delivery.id)
        .cte("marked")
    )
    row = select(
        literal(event.event_id, Uuid), literal(event.topic), literal(event.key), literal(event.envelope, JSONB)
    ).select_from(marked)
    stmt = (
        insert(outbox)
        .add_cte(marked)
        .from_select(["event_id", "topic", "key", "envelope"], row)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(outbox.c.event_id)
    )
    return (await conn.execute(stmt)).first() is not None


@dataclass(frozen=True)
class Outcome:
    """A claimed message's outcome and its event, to be marked with others."""

    delivery_id: uuid.UUID
    claim: uuid.UUID
    mark: Mark
    event: OutboxRow


def _mark_many(outbox: Table) -> Any:
    return text(f"""
        WITH v AS (
            SELECT * FROM unnest(
                CAST(:ids AS uuid[]), CAST(:claims AS uuid[]), CAST(:statuses AS text[]), CAST(:attempts AS int[]),
                CAST(:provider_ids AS text[]), CAST(:errors AS text[]), CAST(:event_ids AS uuid[]),
                CAST(:topics AS text[]), CAST(:keys AS text[]), CAST(:envelopes AS text[])
            ) AS v(id, claim, status, attempts, provider_id, error, event_id, topic, key, envelope)
        ), marked AS (
            UPDATE {Delivery.__tablename__} AS d
            SET status = v.status, attempts = v.attempts, provider_id = v.provider_id, error = v.error,
                recipient = NULL, claimed_until = NULL, finished_at = now()
            FROM v
            WHERE d.id = v.id AND d.claim = v.claim AND d.status = 'queued'
            RETURNING d.id
        ), published AS (
            INSERT INTO {outbox.name} (event_id, topic, key, envelope)
            SELECT v.event_id, v.topic, v.key, CAST(v.envelope AS jsonb) FROM v JOIN marked ON marked.id = v.id
            ON CONFLICT (event_id) DO NOTHING
        )
        SELECT id FROM marked
    """)  # the table names are this service's own, no input


async def mark_many(conn: AsyncConnection, outcomes: list[Outcome], outbox: Table) -> set[uuid.UUID]:
    """Record how many claimed messages went, forget their recipients, and queue their events in the outbox,
    in ONE statement (an UPDATE in a WITH, then an INSERT of the rows it updated): for each message, both or
    neither, and all in one round trip. Each is marked only if its claim is still the one given (not lapsed
    and taken by another sender); returns the ids marked."""
    rows = await conn.execute(
        _mark_many(outbox),
        {
            "ids": [o.delivery_id for o in outcomes],
            "claims": [o.claim for o in outcomes],
            "statuses": [o.mark.status for o in outcomes],
            "attempts": [o.mark.attempts for o in outcomes],
            "provider_ids": [o.mark.provider_id for o in outcomes],
            "errors": [o.mark.error for o in outcomes],
            "event_ids": [o.event.event_id for o in outcomes],
            "topics": [o.event.topic for o in outcomes],
            "keys": [o.event.key for o in outcomes],
            "envelopes": [json.dumps(o.event.envelope) for o in outcomes],
        },
    )
    return {row[0] for row in rows}


async def release(conn: AsyncConnection, token: uuid.UUID, ids: list[uuid.UUID]) -> None:
    """Give back claimed messages this sender will not send (it stops, or they waited too long in its hands):
    due again at once for any sender, rather than after their lease."""
    await conn.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.claim == token, Delivery.status == "queued")
        .values(claimed_until=None)
    )


async def park(session: AsyncSession, alerts: list[dict[str, Any]]) -> None:
    """Keep alerts whose organisation's contacts have not arrived (rows of risk_event_id, organisation_id,
    event, caused_by)."""
    for chunk in _chunks(alerts):
        await session.execute(insert(PendingAlert).values(chunk).on_conflict_do_nothing())


async def take_pending(session: AsyncSession, organisation_ids: set[uuid.UUID]) -> list[PendingAlert]:
    """The alerts that waited for these organisations' contacts, taken (deleted) in one statement."""
    if not organisation_ids:
        return []
    stmt = (
        delete(PendingAlert)
        .where(PendingAlert.organisation_id.in_(organisation_ids))
        .returning(PendingAlert)
        .execution_options(synchronize_session=False)
    )
    return list((await session.scalars(stmt)).all())


async def recent_deliveries(session: AsyncSession, limit: int, offset: int) -> list[Delivery]:
    stmt = select(Delivery).order_by(Delivery.created_at.desc()).limit(limit).offset(offset)
    return list((await session.scalars(stmt)).all())


async def backlog(conn: AsyncConnection) -> tuple[dict[tuple[str, str], int], dict[str, float]]:
    """Queued messages by (channel, due | deferred), and per channel how long the oldest due one has
    waited, in seconds (one scan of the partial index of queued rows)."""
    due = Delivery.send_after <= func.now()
    rows = await conn.execute(
        select(
            Delivery.channel,
            due.label("due"),
            func.count(),
            func.extract("epoch", func.now() - func.min(Delivery.send_after)),
        )
        .where(Delivery.status == "queued")
        .group_by(Delivery.channel, due)
    )
    counts: dict[tuple[str, str], int] = {}
    oldest: dict[str, float] = {}
    for channel, is_due, count, waited in rows:
        counts[(channel, "due" if is_due else "deferred")] = count
        if is_due:
            oldest[channel] = float(waited or 0.0)
    return counts, oldest
