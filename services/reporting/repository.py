"""Every query of reporting."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.models import (
    ClockView,
    FeedFreshness,
    MeasureTaken,
    RiskEventView,
    ScreenedOrganisation,
    Tally,
)


async def bump(session: AsyncSession, metric: str, dimension: str = "all", by: int = 1) -> None:
    stmt = insert(Tally).values(metric=metric, dimension=dimension, value=by)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["metric", "dimension"], set_={"value": Tally.value + by})
    )


async def add_risk_event(session: AsyncSession, values: dict[str, object]) -> bool:
    result = await session.execute(insert(RiskEventView).values(**values).on_conflict_do_nothing())
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def add_measure(session: AsyncSession, values: dict[str, object]) -> None:
    await session.execute(insert(MeasureTaken).values(**values).on_conflict_do_nothing(index_elements=["id"]))


async def put_clock(session: AsyncSession, values: dict[str, object]) -> None:
    """Keep a clock as last published; an ended clock is never made running again (the v2 topics of raised
    and updated events can arrive in either order)."""
    stmt = insert(ClockView).values(**values)
    changed = {k: stmt.excluded[k] for k in values if k != "clock_id"}
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["clock_id"], set_=changed, where=ClockView.ended_on.is_(None))
    )


async def clocks_due_between(session: AsyncSession, start: date, end: date) -> list[ClockView]:
    stmt = select(ClockView).where(ClockView.due_on >= start, ClockView.due_on <= end).order_by(ClockView.due_on)
    return list((await session.scalars(stmt)).all())


async def raised_between(session: AsyncSession, start: datetime, end: datetime) -> list[RiskEventView]:
    stmt = select(RiskEventView).where(RiskEventView.raised_at >= start, RiskEventView.raised_at < end)
    return list((await session.scalars(stmt.order_by(RiskEventView.raised_at))).all())


async def decided_between(session: AsyncSession, start: datetime, end: datetime) -> list[RiskEventView]:
    stmt = select(RiskEventView).where(RiskEventView.decided_at >= start, RiskEventView.decided_at < end)
    return list((await session.scalars(stmt.order_by(RiskEventView.decided_at))).all())


async def measures_between(session: AsyncSession, start: date, end: date) -> list[tuple[MeasureTaken, str | None]]:
    """Measures effective in [start, end], with the organisation's name (from its risk event)."""
    stmt = (
        select(MeasureTaken, RiskEventView.organisation_name)
        .outerjoin(RiskEventView, RiskEventView.risk_event_id == MeasureTaken.risk_event_id)
        .where(MeasureTaken.effective_on >= start, MeasureTaken.effective_on <= end)
        .order_by(MeasureTaken.effective_on, MeasureTaken.certificate_number)
    )
    return [(m, name) for m, name in (await session.execute(stmt)).all()]


def _past_deadline(on: date) -> ColumnElement[bool]:
    """Not decided yet, and due before `on`."""
    return and_(RiskEventView.decision_due < on, RiskEventView.status.in_(["open", "in_review"]))


async def open_past_deadline(session: AsyncSession, on: date) -> list[RiskEventView]:
    stmt = select(RiskEventView).where(_past_deadline(on)).order_by(RiskEventView.decision_due)
    return list((await session.scalars(stmt)).all())


async def risk_event(session: AsyncSession, risk_event_id: object) -> RiskEventView | None:
    return await session.get(RiskEventView, risk_event_id)


async def screen_organisation(session: AsyncSession, organisation_id: object, certificates: int) -> None:
    stmt = insert(ScreenedOrganisation).values(organisation_id=organisation_id, certificate_count=certificates)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["organisation_id"], set_={"certificate_count": certificates})
    )


async def feed_run(session: AsyncSession, values: dict[str, object]) -> None:
    stmt = insert(FeedFreshness).values(**values, runs=1)
    update: dict[str, Any] = {k: stmt.excluded[k] for k in ("last_status", "last_finished_at")}
    update["last_succeeded_at"] = func.coalesce(stmt.excluded.last_succeeded_at, FeedFreshness.last_succeeded_at)
    update["runs"] = FeedFreshness.runs + 1
    await session.execute(stmt.on_conflict_do_update(index_elements=["feed"], set_=update))


async def tallies(session: AsyncSession) -> list[Tally]:
    return list((await session.scalars(select(Tally).order_by(Tally.metric, Tally.dimension))).all())


async def screened(session: AsyncSession) -> tuple[int, int]:
    row = (
        await session.execute(select(func.count(), func.coalesce(func.sum(ScreenedOrganisation.certificate_count), 0)))
    ).one()
    return int(row[0]), int(row[1])


async def overdue(session: AsyncSession, today: date) -> int:
    return int(await session.scalar(select(func.count()).where(_past_deadline(today))) or 0)


async def feeds(session: AsyncSession) -> list[FeedFreshness]:
    return list((await session.scalars(select(FeedFreshness).order_by(FeedFreshness.feed))).all())
