"""Every query of the campaign sweep."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, String, Uuid, any_, distinct, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from services.rules.sweep.models import Sweep, SweepHit, SweepRanking
from services.rules.tables import AuditEntry, Certificate, Organisation, RiskEvent
from shared.db.results import changed

BATCH = 5000  # rows per INSERT of hits and rankings


_T = TypeVar("_T")


def _any(
    column: QueryableAttribute[_T], values: Iterable[_T], kind: type[Uuid[Any]] | type[String]
) -> ColumnElement[bool]:
    """`column = ANY(:values)`: one statement, prepared once, however many values a page has (an IN list is
    a statement of its own, prepared again, for each length)."""
    return column == any_(literal(list(values), ARRAY(kind)))


async def get(session: AsyncSession, sweep_id: uuid.UUID) -> Sweep | None:
    return await session.get(Sweep, sweep_id)


async def page(session: AsyncSession, limit: int, offset: int) -> list[Sweep]:
    stmt = select(Sweep).order_by(Sweep.created_at.desc()).limit(limit).offset(offset)
    return list((await session.scalars(stmt)).all())


async def active(session: AsyncSession) -> Sweep | None:
    """The sweep queued or running, if any."""
    return (await session.scalars(select(Sweep).where(Sweep.active.is_(True)))).first()


async def interrupt_stale(session: AsyncSession, before: datetime) -> int:
    """Sweeps still marked active whose process stopped reporting: failed, so another may start."""
    stmt = (
        update(Sweep)
        .where(Sweep.active.is_(True), func.coalesce(Sweep.heartbeat_at, Sweep.created_at) < before)
        .values(status="interrupted", active=None, error="no progress reported for 10 minutes: its process stopped")
    )
    return await changed(session, stmt)


async def set_fields(session: AsyncSession, sweep_id: uuid.UUID, **values: object) -> None:
    await session.execute(update(Sweep).where(Sweep.id == sweep_id).values(**values))


async def coverage(session: AsyncSession) -> dict[str, Any]:
    """What the registry holds: organisations and certificates, by certificate type and by province."""
    organisations = int(await session.scalar(select(func.count()).select_from(Organisation)) or 0)
    certificates = int(await session.scalar(select(func.count()).select_from(Certificate)) or 0)
    by_type = await session.execute(
        select(Certificate.type, Certificate.status, func.count(), func.count(distinct(Certificate.organisation_id)))
        .group_by(Certificate.type, Certificate.status)
        .order_by(Certificate.type, Certificate.status)
    )
    province = func.coalesce(Organisation.province, "")
    by_province = await session.execute(
        select(province, func.count(distinct(Organisation.id)), func.count(Certificate.id))
        .select_from(Organisation)
        .outerjoin(Certificate, Certificate.organisation_id == Organisation.id)
        .group_by(province)
        .order_by(func.count(distinct(Organisation.id)).desc())
    )
    return {
        "organisations": organisations,
        "certificates": certificates,
        "by_certificate_type": [
            {"type": t, "status": s, "certificates": n, "organisations": o} for t, s, n, o in by_type.all()
        ],
        "by_province": [{"province": p, "organisations": o, "certificates": n} for p, o, n in by_province.all()],
    }


async def organisations(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Organisation]:
    """The organisations (with their certificates), loaded into the session: the screening that follows
    finds them there without a query of its own."""
    stmt = select(Organisation).where(_any(Organisation.id, ids, Uuid))
    return {org.id: org for org in (await session.scalars(stmt)).all()}


@dataclass(frozen=True)
class Held:
    """An organisation's certificates, as much as a hit needs: (type, status, scope, products) each."""

    certificates: tuple[tuple[str, str, str | None, tuple[str, ...]], ...]

    def active_types(self, active: Iterable[str]) -> tuple[str, ...]:
        statuses = set(active)
        return tuple(sorted({t for t, status, _, _ in self.certificates if status in statuses}))


async def certificates_held(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Held]:
    """Organisation id -> its certificates, for the organisations that exist (plain columns: ORM objects for
    every hit of millions of signals cost more than the query)."""
    stmt = (
        select(Organisation.id, Certificate.type, Certificate.status, Certificate.scope, Certificate.products)
        .outerjoin(Certificate, Certificate.organisation_id == Organisation.id)
        .where(_any(Organisation.id, ids, Uuid))
    )
    held: dict[uuid.UUID, list[tuple[str, str, str | None, tuple[str, ...]]]] = {}
    for org_id, kind, status, scope, products in (await session.execute(stmt)).all():
        certificates = held.setdefault(org_id, [])
        if kind is not None:
            certificates.append((kind, status, scope, tuple(products or ())))
    return {org_id: Held(tuple(c)) for org_id, c in held.items()}


async def certificate_holders(session: AsyncSession, numbers: Iterable[str]) -> dict[str, uuid.UUID]:
    """Certificate number -> the organisation holding it, for the numbers the registry knows."""
    stmt = select(Certificate.number, Certificate.organisation_id).where(_any(Certificate.number, numbers, String))
    return {number: org for number, org in (await session.execute(stmt)).all()}


async def existing_events(session: AsyncSession, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    stmt = select(RiskEvent.id).where(_any(RiskEvent.id, ids, Uuid))
    return set((await session.scalars(stmt)).all())


async def add_rows(
    session: AsyncSession, model: type[SweepHit] | type[SweepRanking], rows: list[dict[str, Any]]
) -> None:
    """Many rows, a batch per statement (Core, not the ORM's bulk path: plain rows need no unit of work)."""
    for start in range(0, len(rows), BATCH):
        await session.execute(insert(model.__table__), rows[start : start + BATCH])  # type: ignore[arg-type]


# --- reading a sweep's results ---------------------------------------------------------------------------


async def ranking(
    session: AsyncSession,
    sweep_id: uuid.UUID,
    limit: int | None,
    offset: int = 0,
    band: str | None = None,
    organisation_id: uuid.UUID | None = None,
) -> list[Any]:
    """The ranking, best first, with each organisation's name, code and province."""
    stmt = (
        select(SweepRanking, Organisation.name, Organisation.credit_code, Organisation.province)
        .join(Organisation, Organisation.id == SweepRanking.organisation_id)
        .where(SweepRanking.sweep_id == sweep_id)
        .order_by(SweepRanking.rank)
        .offset(offset)
    )
    if band:
        stmt = stmt.where(SweepRanking.band == band)
    if organisation_id:
        stmt = stmt.where(SweepRanking.organisation_id == organisation_id)
    return list((await session.execute(stmt if limit is None else stmt.limit(limit))).all())


async def hit_events(session: AsyncSession, sweep_id: uuid.UUID) -> list[Any]:
    """The sweep's hits with their organisation and the state of their risk event (none: no rule, or a
    certificate-number hit the nightly flow would not raise)."""
    h = SweepHit
    stmt = (
        select(
            h,
            Organisation.name,
            Organisation.credit_code,
            Organisation.province,
            RiskEvent.status,
            RiskEvent.decision,
            RiskEvent.created_at,
            RiskEvent.decision_due,
            RiskEvent.title,
            RiskEvent.summary,
            SweepRanking.rank,
            SweepRanking.score,
        )
        .join(Organisation, Organisation.id == h.organisation_id)
        .outerjoin(RiskEvent, RiskEvent.id == h.event_id)
        .outerjoin(
            SweepRanking, (SweepRanking.sweep_id == h.sweep_id) & (SweepRanking.organisation_id == h.organisation_id)
        )
        .where(h.sweep_id == sweep_id)
        .order_by(SweepRanking.rank.nulls_last(), h.signal_on.desc().nulls_last())
    )
    return list((await session.execute(stmt)).all())


async def audit_of_events(session: AsyncSession, sweep_id: uuid.UUID, actions: Sequence[str]) -> list[Any]:
    """Decisions, rejections and closings on the sweep's events, oldest first."""
    events = select(SweepHit.event_id).where(SweepHit.sweep_id == sweep_id, SweepHit.event_id.is_not(None))
    stmt = (
        select(AuditEntry.risk_event_id, AuditEntry.action, AuditEntry.detail, AuditEntry.at)
        .where(AuditEntry.risk_event_id.in_(events), AuditEntry.action.in_(list(actions)))
        .order_by(AuditEntry.id)
    )
    return list((await session.execute(stmt)).all())


async def certificates_hit_annex(session: AsyncSession, sweep_id: uuid.UUID) -> list[Any]:
    """Every certificate of every organisation the sweep found something about, by rank."""
    orgs = select(SweepHit.organisation_id.label("org")).where(SweepHit.sweep_id == sweep_id).distinct().subquery()
    stmt = (
        select(
            Certificate.organisation_id,
            Certificate.number,
            Certificate.type,
            Certificate.status,
            Certificate.scope,
            Certificate.expires_on,
            Organisation.name,
            Organisation.credit_code,
            Organisation.province,
            SweepRanking.rank,
            SweepRanking.score,
            SweepRanking.band,
        )
        .join(orgs, orgs.c.org == Certificate.organisation_id)
        .join(Organisation, Organisation.id == Certificate.organisation_id)
        .outerjoin(
            SweepRanking,
            (SweepRanking.sweep_id == sweep_id) & (SweepRanking.organisation_id == Certificate.organisation_id),
        )
        .order_by(SweepRanking.rank.nulls_last(), Certificate.number)
    )
    return list((await session.execute(stmt)).all())
