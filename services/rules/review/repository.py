"""Every risk-event query."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.tables import AuditEntry, DeadlineClock, Organisation, RiskEvent
from shared.db.results import affected


async def add(session: AsyncSession, values: Mapping[str, object]) -> bool:
    """Insert a risk event; False when one with this (deterministic) id exists: a replay."""
    result = await session.execute(insert(RiskEvent).values(**values).on_conflict_do_nothing(index_elements=["id"]))
    return bool(affected(result))


def audit(
    session: AsyncSession,
    risk_event_id: uuid.UUID,
    actor: str,
    action: str,
    reason: str | None = None,
    **detail: object,
) -> None:
    session.add(AuditEntry(risk_event_id=risk_event_id, actor=actor, action=action, reason=reason, detail=detail))


async def count_since(session: AsyncSession, organisation_id: uuid.UUID, rule_id: str, since: datetime) -> int:
    stmt = select(func.count()).where(
        RiskEvent.organisation_id == organisation_id,
        RiskEvent.rule_id == rule_id,
        RiskEvent.created_at >= since,
    )
    return int(await session.scalar(stmt) or 0)


async def get(session: AsyncSession, risk_event_id: uuid.UUID, for_update: bool = False) -> RiskEvent | None:
    """One risk event; `for_update` locks it until the transaction ends (two reviewers deciding at once
    are taken one after the other)."""
    return await session.get(RiskEvent, risk_event_id, with_for_update=for_update)


async def audit_steps(session: AsyncSession, risk_event_id: uuid.UUID) -> int:
    """How many entries the event's audit trail has (what was just added included: it is flushed first)."""
    stmt = select(func.count()).select_from(AuditEntry).where(AuditEntry.risk_event_id == risk_event_id)
    return int(await session.scalar(stmt) or 0)


async def audit_trail(session: AsyncSession, risk_event_id: uuid.UUID) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.risk_event_id == risk_event_id).order_by(AuditEntry.id)
    return list((await session.scalars(stmt)).all())


async def summaries(
    session: AsyncSession,
    *,
    status: str | None,
    severity: str | None,
    organisation_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> list[dict[str, object]]:
    """A page of events as lists show them, newest first: only the columns a summary needs (no evidence, no
    explanation), the organisation's registered name, the match's score, decision and method read inside
    PostgreSQL, and the first running clock's due date by one correlated lookup."""
    first_due = (
        select(func.min(DeadlineClock.due_on))
        .where(
            DeadlineClock.risk_event_id == RiskEvent.id, DeadlineClock.ended_on.is_(None), DeadlineClock.state != "void"
        )
        .scalar_subquery()
    )
    e = RiskEvent
    stmt = (
        select(
            e.id,
            e.organisation_id,
            e.signal_id,
            e.signal_kind,
            e.rule_id,
            e.severity,
            e.recommended_measure,
            e.status,
            e.title,
            e.decision_due,
            e.assigned_to,
            e.decision,
            e.suspended_until,
            e.created_at,
            e.updated_at,
            first_due.label("next_due"),
            Organisation.name.label("organisation_name"),
            e.match["score"].astext.label("match_score"),
            e.match["decision"].astext.label("match_decision"),
            e.match["method"].astext.label("match_method"),
            e.correction["state"].astext.label("correction"),
        )
        .join(Organisation, Organisation.id == e.organisation_id)
        .order_by(e.created_at.desc())
        .limit(limit)
        .offset(offset)
    )
    if status:
        stmt = stmt.where(e.status == status)
    if severity:
        stmt = stmt.where(e.severity == severity)
    if organisation_id:
        stmt = stmt.where(e.organisation_id == organisation_id)
    rows = []
    for row in (await session.execute(stmt)).mappings():
        values = dict(row)
        score = values.pop("match_score")
        values["match"] = {
            "score": float(score) if score is not None else None,
            "decision": values.pop("match_decision"),
            "method": values.pop("match_method"),
        }
        rows.append(values)
    return rows


async def suspensions_ended(session: AsyncSession, today: date) -> list[RiskEvent]:
    """Decided events whose suspension ended before today, locked (one replica reopens each)."""
    stmt = (
        select(RiskEvent)
        .where(RiskEvent.status == "decided", RiskEvent.decision == "suspend", RiskEvent.suspended_until < today)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())


async def corrected_by(session: AsyncSession, organisation_id: uuid.UUID, signal_id: uuid.UUID) -> list[RiskEvent]:
    """The organisation's events this signal was linked to as their correction (pending, confirmed or rejected),
    in any status."""
    stmt = select(RiskEvent).where(
        RiskEvent.organisation_id == organisation_id,
        RiskEvent.correction["signal_id"].astext == str(signal_id),
    )
    return list((await session.scalars(stmt)).all())


async def open_of_kinds(session: AsyncSession, organisation_id: uuid.UUID, kinds: Iterable[str]) -> list[RiskEvent]:
    """The organisation's events of these signal kinds not closed, oldest first, locked (a correction links to them)."""
    stmt = (
        select(RiskEvent)
        .where(
            RiskEvent.organisation_id == organisation_id,
            RiskEvent.signal_kind.in_(list(kinds)),
            RiskEvent.status != "closed",
        )
        .order_by(RiskEvent.created_at)
        .with_for_update()
    )
    return list((await session.scalars(stmt)).all())


# Set-based, for a batch of signals screened at once (screening/batch.py).


async def add_many(session: AsyncSession, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert these risk events in one statement; returns the ids of those that were new (not a replay)."""
    if not rows:
        return set()
    table = cast(Table, RiskEvent.__table__)
    stmt = insert(table).on_conflict_do_nothing(index_elements=["id"]).returning(table.c.id)
    return set((await session.execute(stmt, rows)).scalars().all())


async def audit_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Audit rows (risk_event_id, actor, action, reason, detail) in one statement, in this order."""
    if rows:
        await session.execute(insert(cast(Table, AuditEntry.__table__)), rows)


async def existing(session: AsyncSession, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these risk events exist."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return set()
    return set((await session.scalars(select(RiskEvent.id).where(RiskEvent.id.in_(wanted)))).all())


async def counts_since(
    session: AsyncSession, organisation_ids: Iterable[uuid.UUID], rule_ids: Iterable[str], since: datetime
) -> defaultdict[tuple[uuid.UUID, str], int]:
    """`count_since` for every (organisation, rule) of these at once (0 when absent), in one GROUP BY."""
    counts: defaultdict[tuple[uuid.UUID, str], int] = defaultdict(int)
    orgs, rules = list(set(organisation_ids)), list(set(rule_ids))
    if not orgs or not rules:
        return counts
    stmt = (
        select(RiskEvent.organisation_id, RiskEvent.rule_id, func.count())
        .where(RiskEvent.organisation_id.in_(orgs), RiskEvent.rule_id.in_(rules), RiskEvent.created_at >= since)
        .group_by(RiskEvent.organisation_id, RiskEvent.rule_id)
    )
    for org, rule, count in (await session.execute(stmt)).all():
        counts[(org, rule)] = int(count)
    return counts


async def linked_corrections(
    session: AsyncSession, organisation_ids: Iterable[uuid.UUID], signal_ids: Iterable[uuid.UUID]
) -> set[tuple[uuid.UUID, str]]:
    """(organisation, signal id) of every event of these organisations one of these signals was linked to as
    its correction, in any status: what `corrected_by` would find for each (on the organisation's index)."""
    orgs, wanted = list(set(organisation_ids)), [str(i) for i in set(signal_ids)]
    if not orgs or not wanted:
        return set()
    signal_id = RiskEvent.correction["signal_id"].astext
    stmt = (
        select(RiskEvent.organisation_id, signal_id)
        .where(RiskEvent.organisation_id.in_(orgs), signal_id.in_(wanted))
        .distinct()
    )
    return {(org, linked) for org, linked in (await session.execute(stmt)).all()}


async def open_kinds(
    session: AsyncSession, organisation_ids: Iterable[uuid.UUID], kinds: Iterable[str]
) -> dict[uuid.UUID, set[str]]:
    """The signal kinds (of these) of each organisation's events not closed: what `open_of_kinds` would find."""
    orgs, wanted = list(set(organisation_ids)), list(set(kinds))
    found: dict[uuid.UUID, set[str]] = {}
    if not orgs or not wanted:
        return found
    stmt = (
        select(RiskEvent.organisation_id, RiskEvent.signal_kind)
        .where(RiskEvent.organisation_id.in_(orgs), RiskEvent.signal_kind.in_(wanted), RiskEvent.status != "closed")
        .distinct()
    )
    for org, kind in (await session.execute(stmt)).all():
        found.setdefault(org, set()).add(kind)
    return found
