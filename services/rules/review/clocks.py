"""A risk event's statutory clocks, kept: started when the event is raised or a step starts one, ended by
the act that answers them, and published with the event (`ruleset/clocks.py` says which clock, why, and
for how long)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.ruleset.clocks import CLOCKS, Deadline, deadline, on_confirmation
from services.rules.tables import DeadlineClock, RiskEvent
from shared.contracts import Topic, deterministic_id
from shared.contracts.ingest import Signal
from shared.contracts.rules import (
    Clock,
    ClockKind,
    ClockState,
    LegalBasis,
    Measure,
    RiskEventRaised,
    RiskEventRaisedV2,
    RiskEventUpdated,
    RiskEventUpdatedV2,
    next_due,
)
from shared.kafka.outbox import Outbox


def _row(risk_event_id: uuid.UUID, found: Deadline, seq: int) -> DeadlineClock:
    rule = found.rule
    return DeadlineClock(
        id=deterministic_id("clock", risk_event_id, found.kind.value, found.starts_on, seq),
        risk_event_id=risk_event_id,
        kind=found.kind.value,
        basis=rule.basis.model_dump(),
        starts_on=found.starts_on,
        length=rule.length,
        unit=rule.unit.value,
        due_on=found.due_on,
        state=ClockState.RUNNING.value,
        provisional=found.provisional,
        calendar_note=found.note,
    )


def contract(row: DeadlineClock) -> Clock:
    return Clock(
        clock_id=row.id,
        kind=ClockKind(row.kind),
        basis=LegalBasis(**row.basis),
        starts_on=row.starts_on,
        length=row.length,
        unit=row.unit,
        due_on=row.due_on,
        state=ClockState(row.state),
        ended_on=row.ended_on,
        ended_by=row.ended_by,
        provisional=bool(row.provisional),
        calendar_note=row.calendar_note,
    )


def published_on(signal: Signal | dict[str, Any], raised: date) -> date:
    """When the signal was published: the bulletin's date, else the listing's, else the day it was raised."""
    if isinstance(signal, Signal):
        signal = signal.model_dump(mode="json", include={"published_on", "detail"})
    detail = signal.get("detail") or {}
    found = signal.get("published_on") or detail.get("listed_on")
    return date.fromisoformat(found) if found else raised


async def raised(
    session: AsyncSession,
    outbox: Outbox,
    event: RiskEventRaised,
    started: tuple[Deadline, ...],
    signal: Signal,
    caused_by: uuid.UUID,
) -> None:
    """Keep the clocks a new event started, and publish it as v2 with them (v1 goes on beside it)."""
    rows = [_row(event.risk_event_id, found, 0) for found in started]
    session.add_all(rows)
    v2 = RiskEventRaisedV2(
        **event.model_dump(),
        signal_published_on=published_on(signal, event.raised_at.date()),
        clocks=[contract(r) for r in rows],
    )
    await outbox.add(
        session,
        Topic.RISK_EVENT_RAISED_V2,
        str(event.organisation_id),
        v2,
        event_id=deterministic_id("risk-event-raised.v2", event.risk_event_id),
        causation_id=caused_by,
    )


async def publish_update(
    session: AsyncSession, outbox: Outbox, event: RiskEvent, update: RiskEventUpdated, event_id: uuid.UUID
) -> None:
    """The v2 twin of a v1 update: the same change, with every clock of the event as it stands now."""
    v2 = RiskEventUpdatedV2(
        **update.model_dump(),
        signal_published_on=published_on(event.signal, event.created_at.date()),
        clocks=[contract(c) for c in event.clocks],
    )
    await outbox.add(session, Topic.RISK_EVENT_UPDATED_V2, str(event.organisation_id), v2, event_id=event_id)


def start(event: RiskEvent, found: Deadline) -> DeadlineClock:
    seq = sum(c.kind == found.kind.value for c in event.clocks)  # a second suspension gets a clock of its own
    row = _row(event.id, found, seq)
    event.clocks.append(row)
    _deadline_follows(event)
    return row


def running(event: RiskEvent, kind: ClockKind | None = None) -> list[DeadlineClock]:
    return [c for c in event.clocks if c.ended_on is None and (kind is None or c.kind == kind.value)]


def end(clock: DeadlineClock, on: date, by: str, *, void: bool = False) -> None:
    """Met when ended by its due date, missed when later; void when something made it moot."""
    clock.ended_on, clock.ended_by = on, by
    state = ClockState.VOID if void else ClockState.MET if on <= clock.due_on else ClockState.MISSED
    clock.state = state.value


def decided(event: RiskEvent, measure: Measure, on: date, reply_due: date | None = None) -> None:
    """A decision ends the clocks it answers and starts those it calls for: a suspension's 6-month limit;
    the organisation's reply by the day the decision set (corrective action, an explanation). A reply clock
    still running ends with any later decision: missed when already past due, else void (superseded)."""
    for clock in running(event):
        if measure.value in CLOCKS[ClockKind(clock.kind)].ended_by:
            end(clock, on, measure.value)
        elif clock.kind == ClockKind.REPLY.value:
            end(clock, on, measure.value, void=on <= clock.due_on)
    if measure is Measure.SUSPEND and not running(event, ClockKind.SUSPENSION_LIMIT):
        start(event, deadline(ClockKind.SUSPENSION_LIMIT, on))
    if reply_due is not None:
        start(event, deadline(ClockKind.REPLY, on, reply_due))
    _deadline_follows(event)


def suspension_limit(event: RiskEvent) -> DeadlineClock | None:
    """The running 6-month clock of the event's suspension, if it is suspended."""
    found = running(event, ClockKind.SUSPENSION_LIMIT)
    return found[0] if found else None


def confirmed(event: RiskEvent, on: date) -> bool:
    """A reviewer confirmed the match: the non-conformity is confirmed, so the suspension (Art. 21) or
    withdrawal (§7.3.1) clock of the recommended measure starts, unless it runs already (a sure match
    started it when raised) or a decision came first. True when a clock started."""
    found = on_confirmation(Measure(event.recommended_measure), on)
    if found is None or event.decision is not None or any(c.kind == found.kind.value for c in event.clocks):
        return False
    start(event, found)
    return True


def made_moot(event: RiskEvent, on: date, by: str) -> None:
    """The match was rejected, or the event closed: what still runs is void, or missed if already past due."""
    for clock in running(event):
        end(clock, on, by, void=on <= clock.due_on)


def reopened(event: RiskEvent, suspension_ended: date) -> None:
    """A suspension ended unresolved: withdraw within 5 working days of it (QMS rule 2016 §7.3.1(7)),
    unless restored; the event's deadline is that clock's."""
    start(event, deadline(ClockKind.WITHDRAWAL, suspension_ended))


def replied(event: RiskEvent, on: date) -> bool:
    """The organisation answered: its reply clocks end (met by their due date). False when none ran."""
    waiting = running(event, ClockKind.REPLY)
    for clock in waiting:
        end(clock, on, "reply")
    _deadline_follows(event)
    return bool(waiting)


def _deadline_follows(event: RiskEvent) -> None:
    """The event's decision deadline is its most urgent running clock's due date, when one runs."""
    due = next_due([contract(c) for c in event.clocks])
    if due is not None:
        event.decision_due = due


# Set-based, for a batch of signals screened at once (screening/batch.py).


def raised_rows(
    event: RiskEventRaised, started: tuple[Deadline, ...], signal: Signal
) -> tuple[list[dict[str, Any]], RiskEventRaisedV2]:
    """What `raised` keeps and publishes, returned instead: the clocks' rows (for `add_many`) and the v2 event.
    The rows are plain values, as `_row` makes them (no ORM instance: making one cost more than the rest)."""
    rows = [_values(event.risk_event_id, found, 0) for found in started]
    v2 = RiskEventRaisedV2(
        **event.model_dump(),
        signal_published_on=published_on(signal, event.raised_at.date()),
        clocks=[_contract_of(r) for r in rows],
    )
    return rows, v2


def _values(risk_event_id: uuid.UUID, found: Deadline, seq: int) -> dict[str, Any]:
    """The columns `_row` sets."""
    rule = found.rule
    return {
        "id": deterministic_id("clock", risk_event_id, found.kind.value, found.starts_on, seq),
        "risk_event_id": risk_event_id,
        "kind": found.kind.value,
        "basis": rule.basis.model_dump(),
        "starts_on": found.starts_on,
        "length": rule.length,
        "unit": rule.unit.value,
        "due_on": found.due_on,
        "state": ClockState.RUNNING.value,
        "provisional": found.provisional,
        "calendar_note": found.note,
    }


def _contract_of(row: dict[str, Any]) -> Clock:
    """`contract` of a new clock's values."""
    return Clock(
        clock_id=row["id"],
        kind=ClockKind(row["kind"]),
        basis=LegalBasis(**row["basis"]),
        starts_on=row["starts_on"],
        length=row["length"],
        unit=row["unit"],
        due_on=row["due_on"],
        state=ClockState(row["state"]),
        ended_on=None,
        ended_by=None,
        provisional=bool(row["provisional"]),
        calendar_note=row["calendar_note"],
    )


async def add_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Clock rows (as `raised_rows` gives them) in one statement."""
    if rows:
        await session.execute(insert(cast(Table, DeadlineClock.__table__)), rows)
