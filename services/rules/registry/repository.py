"""Every registry query."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.tables import Organisation


async def get(session: AsyncSession, organisation_id: uuid.UUID) -> Organisation | None:
    return await session.get(Organisation, organisation_id)


async def get_many(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, Organisation]:
    """These organisations (those that exist), with their contacts and certificates, in one query each."""
    found = await session.scalars(select(Organisation).where(Organisation.id.in_(ids)))
    return {org.id: org for org in found}


async def by_credit_code(session: AsyncSession, code: str) -> list[Organisation]:
    return list((await session.scalars(select(Organisation).where(Organisation.credit_code == code))).all())


async def page(session: AsyncSession, limit: int, offset: int, name: str | None = None) -> list[Organisation]:
    stmt = select(Organisation).order_by(Organisation.name).limit(limit).offset(offset)
    if name:
        stmt = stmt.where(Organisation.name.contains(name))
    return list((await session.scalars(stmt)).all())
