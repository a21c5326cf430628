"""Every query of reporting."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import ColumnElement, Date, Table, and_, bindparam, delete, func, null, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Executable

from services.reporting.models import (
    ClockView,
    DailyTally,
    FeedFreshness,
    MeasureTaken,
    NotificationView,
    RiskEventView,
    ScreenedOrganisation,
    Tally,
)
from shared.db.results import affected

# --- a batch of projections: the writes gathered and made set-based ----------------------------------------

_BATCH = "reporting.batch"  # the session's `info` key of the batch in hand
_CLOCKS = cast(Table, ClockView.__table__)  # written and read as plain rows (no ORM instance per clock)


class BatchConflict(Exception):
    """A risk event of the batch was added by another transaction meanwhile: its tallies would count it twice.
    The consumer rolls the batch back and handles it one by one, which sees that row."""


@dataclass
class _Batch:
    """What the projections of a batch write, kept until its end: tallies summed per key, the rows of the
    read models that are only written here (never read while a batch runs) keyed as their primary key."""

    known_risk_events: set[Any]
    tallies: Counter[tuple[str, str]] = field(default_factory=Counter)
    days: Counter[tuple[date, str, str]] = field(default_factory=Counter)
    risk_events: dict[Any, dict[str, object]] = field(default_factory=dict)
    screened: dict[Any, int] = field(default_factory=dict)
    notifications: dict[Any, dict[str, object]] = field(default_factory=dict)
    clocks: _Clocks | None = None  # when the block projects statutory clocks


@dataclass
class _Clocks:
    """The clocks of the batch's risk events: as stored when it began (read once, locked), then as put by it."""

    of_event: dict[Any, dict[Any, dict[str, Any]]] = field(default_factory=dict)  # risk event -> clock id -> row
    stored: set[Any] = field(default_factory=set)  # the ids that had a row before the batch
    put: dict[Any, dict[str, Any]] = field(default_factory=dict)  # what the batch writes, by clock id

    async def load(self, session: AsyncSession, risk_events: list[Any]) -> None:
        """The stored clocks of these events, locked until the commit: a batch of the other v2 topic waits for
        this one, then reads what it wrote (each counts a clock's change once)."""
        for event in risk_events:
            self.of_event.setdefault(event, {})
        stmt = (
            select(_CLOCKS)
            .where(_CLOCKS.c.risk_event_id.in_(risk_events))
            .order_by(_CLOCKS.c.clock_id)
            .with_for_update()
        )
        for row in (await session.execute(stmt)).mappings():
            self.of_event[row["risk_event_id"]][row["clock_id"]] = dict(row)
            self.stored.add(row["clock_id"])


def _batch(session: AsyncSession) -> _Batch | None:
    batch: _Batch | None = session.info.get(_BATCH)
    return batch


@asynccontextmanager
async def batched(
    session: AsyncSession, risk_events: Iterable[Any] = (), clocks_of: Iterable[Any] | None = None
) -> AsyncIterator[None]:
    """Run a batch of projections in `session` as if one after the other, with a few statements: `bump`,
    `bump_day`, `add_risk_event`, `screen_organisation`, `add_notification` and `put_clock` are gathered and
    written when the block ends (tallies summed, in key order), each in one statement. `risk_events`: the ids
    the block may add, looked up first (one query) so that `add_risk_event` still says whether an event is new.
    `clocks_of`: the risk events whose clocks the block puts, read first (one query) for `kept_clocks`."""
    ids = list(set(risk_events))
    known = (
        set(
            (
                await session.scalars(select(RiskEventView.risk_event_id).where(RiskEventView.risk_event_id.in_(ids)))
            ).all()
        )
        if ids
        else set()
    )
    batch = _Batch(known)
    if clocks_of is not None:
        batch.clocks = _Clocks()
        await batch.clocks.load(session, list(set(clocks_of)))
    session.info[_BATCH] = batch
    try:
        yield
    finally:
        session.info.pop(_BATCH, None)
    await _write(session, batch)


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


@cache
def _statement(
    table: Table, names: tuple[str, ...], changed: tuple[str, ...] = (), add: bool = False, open_only: bool = False
) -> Executable:
    """INSERT … SELECT FROM unnest(an array per column, `_arrays`): one statement whose text is the same whatever
    the number of rows, so PostgreSQL parses it once per connection, and built once here. An insert of many rows
    through the ORM renders a multi-VALUES statement per batch size and keeps per-row bookkeeping (a tenth of the
    worker's active samples on a backlog). On a conflict on the primary key: nothing, returning the keys added
    (by default); `changed` columns replaced (only while `ended_on` is null if `open_only`); or `value` added."""
    arrays = [bindparam(f"u_{n}", type_=ARRAY(table.c[n].type)) for n in names]
    source = func.unnest(*arrays).table_valued(*names).render_derived()
    stmt = insert(table).from_select(list(names), select(*[source.c[n] for n in names]))
    keys = [c.name for c in table.primary_key]
    if add:
        return stmt.on_conflict_do_update(index_elements=keys, set_={"value": table.c.value + stmt.excluded.value})
    if changed:
        where = table.c.ended_on.is_(None) if open_only else None
        return stmt.on_conflict_do_update(index_elements=keys, set_={n: stmt.excluded[n] for n in changed}, where=where)
    return stmt.on_conflict_do_nothing().returning(*table.primary_key.columns)


def _arrays(rows: list[dict[str, Any]]) -> tuple[tuple[str, ...], dict[str, list[Any]]]:
    """The columns of `rows` (all with the same keys) and their values, one list per column."""
    names = tuple(rows[0])
    return names, {f"u_{n}": [r[n] for r in rows] for n in names}


async def _insert_new(session: AsyncSession, table: Table, rows: list[dict[str, Any]], what: str) -> None:
    """Insert rows the batch found missing; one added meanwhile by another transaction is a BatchConflict."""
    names, values = _arrays(rows)
    added = (await session.execute(_statement(table, names), values)).all()
    if len(added) != len(rows):
        raise BatchConflict(f"{len(rows) - len(added)} of {len(rows)} {what} were added meanwhile")


async def _write(session: AsyncSession, batch: _Batch) -> None:
    if batch.risk_events:
        await _insert_new(session, _table(RiskEventView), list(batch.risk_events.values()), "risk events")
    if batch.clocks is not None and batch.clocks.put:
        await _write_clocks(session, batch.clocks)
    if batch.screened:
        rows = [{"organisation_id": k, "certificate_count": v} for k, v in batch.screened.items()]
        names, values = _arrays(rows)
        await session.execute(_statement(_table(ScreenedOrganisation), names, ("certificate_count",)), values)
    if batch.notifications:
        names, values = _arrays(list(batch.notifications.values()))
        changed = ("outcome", "attempts", "at")  # the first row's columns, the latest outcome
        await session.execute(_statement(_table(NotificationView), names, changed), values)
    if batch.tallies:
        names, values = _arrays(
            [{"metric": m, "dimension": d, "value": n} for (m, d), n in sorted(batch.tallies.items())]
        )
        await session.execute(_statement(_table(Tally), names, add=True), values)
    if batch.days:
        rows = [{"day": d, "metric": m, "dimension": x, "value": n} for (d, m, x), n in sorted(batch.days.items())]
        names, values = _arrays(rows)
        await session.execute(_statement(_table(DailyTally), names, add=True), values)


async def _write_clocks(session: AsyncSession, clocks: _Clocks) -> None:
    """The clocks the batch put, as last put, in clock id order: the new ones inserted (a clock another
    transaction added meanwhile would have its tallies counted twice: BatchConflict), the stored ones, locked
    since the batch read them, updated as `put_clock` updates them."""
    new = [clocks.put[k] for k in sorted(clocks.put) if k not in clocks.stored]
    kept = [clocks.put[k] for k in sorted(clocks.put) if k in clocks.stored]
    if new:
        await _insert_new(session, _CLOCKS, new, "clocks")
    if kept:
        names, values = _arrays(kept)
        changed = tuple(n for n in names if n != "clock_id")
        await session.execute(_statement(_CLOCKS, names, changed, open_only=True), values)


# --- the projections' writes --------------------------------------------------------------------------------


async def bump(session: AsyncSession, metric: str, dimension: str = "all", by: int = 1) -> None:
    if (batch := _batch(session)) is not None:
        batch.tallies[(metric, dimension)] += by
        return
    stmt = insert(Tally).values(metric=metric, dimension=dimension, value=by)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["metric", "dimension"], set_={"value": Tally.value + by})
    )


async def add_risk_event(session: AsyncSession, values: dict[str, object]) -> bool:
    if (batch := _batch(session)) is not None:
        key = values["risk_event_id"]
        if key in batch.known_risk_events or key in batch.risk_events:
            return False
        batch.risk_events[key] = values
        return True
    result = await session.execute(insert(RiskEventView).values(**values).on_conflict_do_nothing())
    return bool(affected(result))


async def add_measure(session: AsyncSession, values: dict[str, object]) -> None:
    await session.execute(insert(MeasureTaken).values(**values).on_conflict_do_nothing(index_elements=["id"]))


async def kept_clocks(session: AsyncSession, risk_event_id: Any) -> dict[Any, dict[str, Any]]:
    """A risk event's clocks as kept now (in a batch: as the batch left them), by clock id, as column values."""
    batch = _batch(session)
    if batch is None or batch.clocks is None:
        stmt = select(_CLOCKS).where(_CLOCKS.c.risk_event_id == risk_event_id)
        return {row["clock_id"]: dict(row) for row in (await session.execute(stmt)).mappings()}
    if risk_event_id not in batch.clocks.of_event:  # not announced to `batched`: read (and locked) now
        await batch.clocks.load(session, [risk_event_id])
    return dict(batch.clocks.of_event[risk_event_id])


async def put_clock(session: AsyncSession, values: dict[str, Any]) -> None:
    """Keep a clock as last published; an ended clock is never made running again (the v2 topics of raised
    and updated events can arrive in either order)."""
    batch = _batch(session)
    if batch is not None and batch.clocks is not None:
        if values["risk_event_id"] not in batch.clocks.of_event:
            await batch.clocks.load(session, [values["risk_event_id"]])
        of_event = batch.clocks.of_event[values["risk_event_id"]]
        kept = of_event.get(values["clock_id"])
        if kept is None or kept["ended_on"] is None:  # as the upsert's WHERE
            of_event[values["clock_id"]] = batch.clocks.put[values["clock_id"]] = values
        return
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
    if (batch := _batch(session)) is not None:
        batch.screened[organisation_id] = certificates  # the last one counts, as with one upsert after another
        return
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


# --- the dashboard ------------------------------------------------------------------------------------------

# What migration 0005 ran: the daily aggregate rebuilt from the rows (the bench loads rows with COPY, then this).
REBUILD_DAILY_TALLIES = """
INSERT INTO daily_tallies (day, metric, dimension, value)
SELECT day, metric, dimension, count(*) FROM (
  SELECT (raised_at AT TIME ZONE 'Asia/Shanghai')::date AS day, m.metric, m.dimension
  FROM risk_events CROSS JOIN LATERAL (VALUES ('raised', 'all'), ('raised_by_kind', signal_kind),
    ('raised_by_severity', severity), ('raised_by_province', coalesce(province, 'unknown'))) AS m(metric, dimension)
  UNION ALL
  SELECT (raised_at AT TIME ZONE 'Asia/Shanghai')::date, 'raised_by_certificate_type', t
  FROM risk_events CROSS JOIN LATERAL unnest(string_to_array(coalesce(nullif(certificate_types, ''), 'none'), ',')) AS t
  UNION ALL
  SELECT (decided_at AT TIME ZONE 'Asia/Shanghai')::date, 'decided_by_measure', coalesce(decision, 'none')
  FROM risk_events WHERE decided_at IS NOT NULL
  UNION ALL
  SELECT (coalesce(decided_at, closed_at) AT TIME ZONE 'Asia/Shanghai')::date, 'resolved', 'all'
  FROM risk_events WHERE status NOT IN ('open', 'in_review') AND coalesce(decided_at, closed_at) IS NOT NULL
  UNION ALL
  SELECT decision_due, 'due', 'all' FROM risk_events WHERE decision_due IS NOT NULL
  UNION ALL
  SELECT greatest(decision_due, (coalesce(decided_at, closed_at) AT TIME ZONE 'Asia/Shanghai')::date),
    'due_resolved', 'all'
  FROM risk_events
  WHERE decision_due IS NOT NULL AND status NOT IN ('open', 'in_review') AND coalesce(decided_at, closed_at) IS NOT NULL
  UNION ALL
  SELECT ended_on, 'decision_days', (ended_on - coalesce(signal_published_on, starts_on))::text
  FROM clocks
  WHERE ended_on IS NOT NULL AND state <> 'void' AND kind IN ('short_notice_audit', 'suspension', 'withdrawal')
  UNION ALL
  SELECT due_on, m.metric, m.dimension FROM clocks CROSS JOIN LATERAL (VALUES ('clock_due', kind),
    ('clock_' || state, CASE WHEN state IN ('met', 'missed') THEN kind END),
    ('clock_days', CASE WHEN ended_on IS NOT NULL
      THEN kind || ':' || (ended_on - coalesce(signal_published_on, starts_on)) END)) AS m(metric, dimension)
  WHERE state <> 'void' AND m.dimension IS NOT NULL
) AS facts GROUP BY day, metric, dimension
"""


async def rebuild_daily_tallies(session: AsyncSession) -> None:
    await session.execute(delete(DailyTally))
    await session.execute(text(REBUILD_DAILY_TALLIES))


async def bump_day(session: AsyncSession, day: date, metric: str, dimension: str = "all", by: int = 1) -> None:
    if (batch := _batch(session)) is not None:
        batch.days[(day, metric, dimension)] += by
        return
    stmt = insert(DailyTally).values(day=day, metric=metric, dimension=dimension, value=by)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["day", "metric", "dimension"], set_={"value": DailyTally.value + by})
    )


async def daily(
    session: AsyncSession, metrics: list[str], first: date, last: date, per: str | None = None
) -> list[tuple[date | None, str, str, int]]:
    """(period, metric, dimension, sum) for `metrics` from `first` to `last` included, summed in the database
    per "week" (its Monday) or "month" (its first day), or over the whole span (period None)."""
    span = func.date_trunc(per, DailyTally.day).cast(Date) if per else null()
    stmt = (
        select(span, DailyTally.metric, DailyTally.dimension, func.sum(DailyTally.value))
        .where(DailyTally.metric.in_(metrics), DailyTally.day >= first, DailyTally.day <= last)
        .group_by(*([span] if per else []), DailyTally.metric, DailyTally.dimension)
    )
    return [(d, m, dim, int(v)) for d, m, dim, v in (await session.execute(stmt)).all()]


async def daily_totals(session: AsyncSession, metrics: list[str], before: date) -> dict[str, int]:
    """Each metric summed over the days before `before` (where a running total starts)."""
    stmt = (
        select(DailyTally.metric, func.sum(DailyTally.value))
        .where(DailyTally.metric.in_(metrics), DailyTally.day < before)
        .group_by(DailyTally.metric)
    )
    return {m: int(v or 0) for m, v in (await session.execute(stmt)).all()}


async def measures_by_status(session: AsyncSession, start: date, end: date) -> dict[str, int]:
    stmt = (
        select(MeasureTaken.new_status, func.count())
        .where(MeasureTaken.effective_on >= start, MeasureTaken.effective_on <= end)
        .group_by(MeasureTaken.new_status)
    )
    return {status: int(n) for status, n in (await session.execute(stmt)).all()}


async def clock_lines(session: AsyncSession, start: date, end: date, today: date) -> list[dict[str, Any]]:
    """Timeliness per clock kind for the deadlines due in [start, end], in the database (the states as
    shared.contracts.rules.clock_state reads them: a running clock past its date is missed)."""
    late = and_(ClockView.state == "running", ClockView.ended_on.is_(None), ClockView.due_on < today)
    days = ClockView.ended_on - func.coalesce(ClockView.signal_published_on, ClockView.starts_on)
    stmt = (
        select(
            ClockView.kind,
            func.min(ClockView.basis_document + " " + ClockView.basis_article).label("basis"),
            func.count().label("due"),
            func.count().filter(ClockView.state == "met").label("met"),
            func.count().filter(or_(ClockView.state == "missed", late)).label("missed"),
            func.count().filter(and_(ClockView.state == "running", ~late)).label("running"),
            func.percentile_cont(0.5).within_group(days).filter(ClockView.ended_on.isnot(None)).label("median_days"),
            func.max(days).label("max_days"),
        )
        .where(ClockView.due_on >= start, ClockView.due_on <= end, ClockView.state != "void")
        .group_by(ClockView.kind)
    )
    return [dict(row._mapping) for row in (await session.execute(stmt)).all()]


async def clock(session: AsyncSession, clock_id: object) -> ClockView | None:
    return await session.get(ClockView, clock_id)


async def clocks_of(session: AsyncSession, risk_event_id: object) -> list[ClockView]:
    stmt = select(ClockView).where(ClockView.risk_event_id == risk_event_id).order_by(ClockView.due_on)
    # as stored now: put_clock writes past the session's identity map, so never a copy loaded earlier
    return list((await session.scalars(stmt.execution_options(populate_existing=True))).all())


async def add_notification(session: AsyncSession, values: dict[str, object]) -> None:
    if (batch := _batch(session)) is not None:
        kept = batch.notifications.get(values["notification_id"])
        if kept is None:
            batch.notifications[values["notification_id"]] = dict(values)
        else:  # as the upsert: the first row's columns, the latest outcome
            kept.update({k: values[k] for k in ("outcome", "attempts", "at")})
        return
    stmt = insert(NotificationView).values(**values)
    changed = {k: stmt.excluded[k] for k in ("outcome", "attempts", "at")}
    await session.execute(stmt.on_conflict_do_update(index_elements=["notification_id"], set_=changed))


async def notifications_of(session: AsyncSession, **by: object) -> list[NotificationView]:
    """The notifications of one risk event (`risk_event_id=`) or organisation (`organisation_id=`)."""
    stmt = select(NotificationView).filter_by(**by).order_by(NotificationView.at)
    return list((await session.scalars(stmt)).all())


async def measures_of(session: AsyncSession, **by: object) -> list[MeasureTaken]:
    stmt = select(MeasureTaken).filter_by(**by).order_by(MeasureTaken.effective_on)
    return list((await session.scalars(stmt)).all())


async def screened_organisation(session: AsyncSession, organisation_id: object) -> ScreenedOrganisation | None:
    return await session.get(ScreenedOrganisation, organisation_id)


async def list_risk_events(
    session: AsyncSession, where: list[ColumnElement[bool]], limit: int, offset: int = 0
) -> list[RiskEventView]:
    """The events matching every condition, newest first (on the raised_at indexes)."""
    stmt = select(RiskEventView).where(*where).order_by(RiskEventView.raised_at.desc(), RiskEventView.risk_event_id)
    return list((await session.scalars(stmt.limit(limit).offset(offset))).all())


def past_deadline(on: date) -> ColumnElement[bool]:
    return _past_deadline(on)


async def overdue_on(session: AsyncSession, day: date) -> int:
    """Events past their decision deadline at the end of `day` (due by then, not resolved by then), from the daily
    aggregate: the same as `overdue(day + 1)` counted on the rows for any day from today on, in a few rows."""
    totals = await daily_totals(session, ["due", "due_resolved"], day + timedelta(days=1))
    return totals.get("due", 0) - totals.get("due_resolved", 0)
