"""Every query of notify."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.models import DeferredMessage, Delivery, OrganisationContacts, PendingAlert


async def save_contacts(
    session: AsyncSession,
    organisation_id: uuid.UUID,
    name: str,
    contacts: list[dict[str, object]],
    revision: int,
) -> None:
    """Keep the newest revision only: an older event arriving late changes nothing."""
    stmt = insert(OrganisationContacts).values(
        organisation_id=organisation_id, name=name, contacts=contacts, revision=revision
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["organisation_id"],
        set_={"name": name, "contacts": contacts, "revision": revision},
        where=OrganisationContacts.revision < revision,
    )
    await session.execute(stmt)


async def contacts_of(session: AsyncSession, organisation_id: uuid.UUID) -> OrganisationContacts | None:
    return await session.get(OrganisationContacts, organisation_id)


async def delivery(session: AsyncSession, delivery_id: uuid.UUID) -> Delivery | None:
    return await session.get(Delivery, delivery_id)


async def deferred(session: AsyncSession, delivery_id: uuid.UUID) -> bool:
    return await session.get(DeferredMessage, delivery_id) is not None


async def due(session: AsyncSession, now: datetime, limit: int = 200) -> list[DeferredMessage]:
    """Texts whose wait is over, locked for this transaction (another replica skips them)."""
    stmt = (
        select(DeferredMessage)
        .where(DeferredMessage.send_after <= now)
        .order_by(DeferredMessage.send_after)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())


async def park(session: AsyncSession, alert: PendingAlert) -> None:
    await session.execute(
        insert(PendingAlert)
        .values(
            risk_event_id=alert.risk_event_id,
            organisation_id=alert.organisation_id,
            event=alert.event,
            caused_by=alert.caused_by,
        )
        .on_conflict_do_nothing()
    )


async def take_pending(session: AsyncSession, organisation_id: uuid.UUID) -> list[PendingAlert]:
    rows = list(
        (await session.scalars(select(PendingAlert).where(PendingAlert.organisation_id == organisation_id))).all()
    )
    await session.execute(delete(PendingAlert).where(PendingAlert.organisation_id == organisation_id))
    return rows


async def recent_deliveries(session: AsyncSession, limit: int, offset: int) -> list[Delivery]:
    stmt = select(Delivery).order_by(Delivery.created_at.desc()).limit(limit).offset(offset)
    return list((await session.scalars(stmt)).all())
