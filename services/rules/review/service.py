"""Risk events: read for reviewers, and raised and corrected by screening (what screening may ask of review:
it reaches review's clocks, corrections and queries only through these functions)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.review import clocks, corrections, repository
from services.rules.review.decisions import corrective_action_state
from services.rules.review.schemas import AuditEntryRead, RiskEventDetail
from services.rules.ruleset.clocks import Deadline
from services.rules.tables import RiskEvent
from shared.contracts import Topic, deterministic_id
from shared.contracts.ingest import Signal, SignalV2
from shared.contracts.rules import MatchSummary, RiskEventRaised, RiskEventRaisedV2
from shared.errors import NotFound
from shared.kafka.outbox import Outbox


async def get(session: AsyncSession, risk_event_id: uuid.UUID) -> RiskEventDetail:
    event = await repository.get(session, risk_event_id)
    if event is None:
        raise NotFound(f"no risk event {risk_event_id}")
    detail = RiskEventDetail.model_validate(event)
    trail = await repository.audit_trail(session, risk_event_id)
    detail.audit = [AuditEntryRead.model_validate(a) for a in trail]
    detail.corrective_action = corrective_action_state(trail)
    return detail


async def exists(session: AsyncSession, risk_event_id: uuid.UUID) -> bool:
    return await repository.get(session, risk_event_id) is not None


# Raising a risk event (screening: one signal at a time, or a batch set-based).


async def raise_event(
    session: AsyncSession,
    outbox: Outbox,
    values: Mapping[str, object],
    event: RiskEventRaised,
    started: tuple[Deadline, ...],
    signal: Signal,
    caused_by: uuid.UUID,
    escalated: bool,
) -> bool:
    """Keep a new risk event (its row, its audit step, the clocks it starts) and publish it, v1 and v2; False when
    it exists already (its id is deterministic: a replay), and nothing is written."""
    if not await repository.add(session, values):
        return False
    repository.audit(session, event.risk_event_id, "system", "raised", rule=event.rule_id, escalated=escalated)
    await outbox.add(
        session,
        Topic.RISK_EVENT_RAISED,
        str(event.organisation_id),
        event,
        event_id=deterministic_id("risk-event-raised", event.risk_event_id),
        causation_id=caused_by,
    )
    await clocks.raised(session, outbox, event, started, signal, caused_by)  # and v2, with the clocks
    return True


def raised_rows(
    event: RiskEventRaised, started: tuple[Deadline, ...], signal: Signal
) -> tuple[list[dict[str, Any]], RiskEventRaisedV2]:
    """What `raise_event` keeps of the clocks and publishes as v2, returned instead, for `raise_many`."""
    return clocks.raised_rows(event, started, signal)


async def raise_many(
    session: AsyncSession, events: list[dict[str, Any]], audits: list[dict[str, Any]], clock_rows: list[dict[str, Any]]
) -> set[uuid.UUID]:
    """Insert these risk events in one statement, then the audit rows and clocks of those that were new (one each);
    returns the new events' ids (the rest exist: a replay)."""
    new = await repository.add_many(session, events)
    await repository.audit_many(session, [a for a in audits if a["risk_event_id"] in new])
    await clocks.add_many(session, [c for c in clock_rows if c["risk_event_id"] in new])
    return new


async def count_since(session: AsyncSession, organisation_id: uuid.UUID, rule_id: str, since: datetime) -> int:
    """The organisation's risk events under this rule raised since then (the prior ones an escalation counts)."""
    return await repository.count_since(session, organisation_id, rule_id, since)


async def counts_since(
    session: AsyncSession, organisation_ids: Iterable[uuid.UUID], rule_ids: Iterable[str], since: datetime
) -> defaultdict[tuple[uuid.UUID, str], int]:
    """`count_since` for every (organisation, rule) of these at once (0 when absent)."""
    return await repository.counts_since(session, organisation_ids, rule_ids, since)


async def existing(session: AsyncSession, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these risk events exist."""
    return await repository.existing(session, ids)


# Correcting risk events: a later signal that overturns an earlier one (corrections.py).


def corrected_kinds(kind: str) -> frozenset[str] | None:
    """The kinds of signal whose open events a signal of this kind may correct; None when it corrects none."""
    return corrections.CORRECTS.get(kind)


async def supersede(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: uuid.UUID,
    signal: SignalV2,
    match: MatchSummary,
    caused_by: uuid.UUID,
) -> list[RiskEvent]:
    """Mark the organisation's open events this signal corrects as superseded, pending confirmation; returns them."""
    return await corrections.supersede(session, outbox, organisation_id, signal, match, caused_by)


async def open_kinds(
    session: AsyncSession, organisation_ids: Iterable[uuid.UUID], kinds: Iterable[str]
) -> dict[uuid.UUID, set[str]]:
    """The signal kinds (of these) of each organisation's events not closed: those a correction may supersede."""
    return await repository.open_kinds(session, organisation_ids, kinds)


async def linked_corrections(
    session: AsyncSession, organisation_ids: Iterable[uuid.UUID], signal_ids: Iterable[uuid.UUID]
) -> set[tuple[uuid.UUID, str]]:
    """(organisation, signal id) of every event of these organisations one of these signals was linked to as its
    correction, in any status."""
    return await repository.linked_corrections(session, organisation_ids, signal_ids)
