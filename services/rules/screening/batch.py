"""Screening a batch of signals set-based (issue 13): what `service.screen` does for each signal in turn, with a
few statements for the whole batch instead of 8-10 round trips per signal.

- every signal of the batch matched in one hop to the matcher's thread;
- the matched organisations loaded with their certificates in one query, and their advisory locks taken (the
  consumer screens partitions side by side: a batch naming an organisation another batch is screening waits for
  that one's commit, so escalations and corrections count as if screened one after the other);
- the risk events the batch could raise that exist already (a replay), the prior events per organisation and
  escalating rule (a GROUP BY), and the organisations with open events a removal or restoration could correct,
  one query each;
- then, in the batch's order, the rules evaluated in memory: an event raised earlier in the batch counts as a
  prior one, exactly as it would had the signals been screened one after the other;
- the new events, their audit rows, clocks and outbox rows (v1 and v2) written in one statement each; only the
  events the INSERT … ON CONFLICT DO NOTHING RETURNING says are new get the rest.

A signal that may correct an open event (`review.corrected_kinds`) goes through `review.supersede` itself,
after what the batch has queued so far is written (so it sees the events raised before it, their audit steps
and outbox order as one-by-one screening would); it is called only for organisations that have such an event.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload, selectinload

from services.rules.matcher.index import Candidate, RegistryIndex
from services.rules.matcher.thread import on_matcher_thread
from services.rules.review import service as review
from services.rules.ruleset.clocks import Context
from services.rules.ruleset.rules import BASELINE
from services.rules.ruleset.service import Outcome, evaluate
from services.rules.screening.matching import ACTIVE, Matched, best_candidates, relevance, risk_event
from services.rules.tables import Organisation
from shared import workdays
from shared.contracts import Topic, deterministic_id
from shared.contracts.ingest import Party, SignalReceivedV2, SignalV2
from shared.db import locks
from shared.kafka.outbox import Outbox
from shared.logging import correlation_id
from shared.parties import role_text

_ESCALATING = {r.id for r in BASELINE if r.escalate_after}


@dataclass(frozen=True)
class Arrival:
    """One signal of the batch: what screens it, what caused it, and the correlation id its events carry."""

    signal: SignalV2
    caused_by: uuid.UUID
    correlation: str | None = None
    corrects_only: bool = False  # a v3 correction (复检合格 …): it links to open events, it never raises one


def _best_of_all(index: RegistryIndex, signals: list[SignalV2]) -> list[dict[str, tuple[Candidate, Party]]]:
    return [best_candidates(index, s) for s in signals]


async def _organisations(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, Organisation]:
    """The organisations with their certificates: one query, and one for the certificates (contacts unread)."""
    if not ids:
        return {}
    stmt = (
        select(Organisation)
        .where(Organisation.id.in_(ids))
        .options(selectinload(Organisation.certificates), raiseload(Organisation.contacts))
    )
    return {org.id: org for org in (await session.scalars(stmt)).all()}


async def _lock(session: AsyncSession, orgs: dict[uuid.UUID, Organisation]) -> None:
    """Hold the matched organisations' screening locks until the transaction ends. Partitions are screened side
    by side (`consumer_concurrency`): two batches naming one organisation must not both count its prior events
    (escalation) or open events (corrections) before the other's are committed; the second waits for the first."""
    await locks.hold(session, locks.LockSpace.SCREENING, orgs)


def _matched(
    signal: SignalV2, found: dict[str, tuple[Candidate, Party]], orgs: dict[uuid.UUID, Organisation]
) -> list[Matched]:
    """As `service.find_matches`, from the organisations loaded for the whole batch."""
    parties = signal.all_parties()
    roles = len(parties) > 1 or any(p.role_label for p in parties)
    matched = []
    for org_id, (candidate, party) in found.items():
        org = orgs.get(uuid.UUID(org_id))
        if org is None:
            continue
        summary = candidate.summary(relevance(signal, org))
        if roles:
            named = role_text(party.role, party.role_label)
            summary = summary.model_copy(update={"explanation": f"{named}「{party.name}」: {summary.explanation}"})
        matched.append(Matched(org, summary, party if roles else None))
    return matched


def _rule_ids(signal: SignalV2) -> list[str]:
    return [r.id for r in BASELINE if signal.kind in r.kinds]


@dataclass
class _Queued:
    """Raised events not written yet, with what goes with each, in the order one-by-one screening writes them."""

    events: list[dict[str, Any]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)
    clocks: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)  # each with the risk event it belongs to

    async def write(self, session: AsyncSession, outbox: Outbox) -> int:
        """One statement each for the events (the new ones returned), their audit rows, clocks and outbox rows."""
        if not self.events:
            return 0
        new = await review.raise_many(session, self.events, self.audits, self.clocks)
        rows = [{k: v for k, v in r.items() if k != "risk_event_id"} for r in self.outbox if r["risk_event_id"] in new]
        await outbox.add_many(session, rows)
        self.events, self.audits, self.clocks, self.outbox = [], [], [], []
        return len(new)


async def screen_batch(session: AsyncSession, outbox: Outbox, index: RegistryIndex, arrivals: list[Arrival]) -> int:
    """Screen these signals, in this order, as `service.screen` (or `service.correct`) would one after the other;
    returns how many risk events were new."""
    if not arrivals:
        return 0
    found = await on_matcher_thread(_best_of_all, index, [a.signal for a in arrivals])
    orgs = await _organisations(session, list(dict.fromkeys(uuid.UUID(o) for f in found for o in f)))
    await _lock(session, orgs)
    matches = [_matched(a.signal, f, orgs) for a, f in zip(arrivals, found, strict=True)]

    raising = [(a, m) for a, ms in zip(arrivals, matches, strict=True) if not a.corrects_only for m in ms]
    candidates = [
        deterministic_id("risk-event", a.signal.signal_id, m.organisation.id, rule_id)
        for a, m in raising
        for rule_id in _rule_ids(a.signal)
    ]
    seen = await review.existing(session, candidates)  # raised before: a replay raises nothing
    since = datetime.now(UTC) - timedelta(days=365)
    prior = await review.counts_since(
        session,
        {m.organisation.id for _, m in raising},
        {r for a, _ in raising for r in _rule_ids(a.signal)} & _ESCALATING,
        since,
    )
    correctable = [
        (m.organisation.id, kinds)
        for a, ms in zip(arrivals, matches, strict=True)
        if (kinds := review.corrected_kinds(a.signal.kind.value))
        for m in ms
    ]
    open_kinds = await review.open_kinds(
        session, {o for o, _ in correctable}, {k for _, kinds in correctable for k in kinds}
    )
    # Linked before, whatever has happened since: a replay or a sweep changes nothing and raises nothing in its place.
    linked_before = await review.linked_corrections(
        session,
        {o for o, _ in correctable},
        [a.signal.signal_id for a in arrivals if review.corrected_kinds(a.signal.kind.value)],
    )
    raised_kinds: dict[uuid.UUID, set[str]] = defaultdict(set)  # the kinds of the events this batch raised
    queued = _Queued()
    raised = 0
    for arrival, matched_list in zip(arrivals, matches, strict=True):
        signal = arrival.signal
        kinds = review.corrected_kinds(signal.kind.value)
        token = correlation_id.set(arrival.correlation)
        try:
            for matched in matched_list:
                org_id = matched.organisation.id
                if kinds and (org_id, str(signal.signal_id)) in linked_before:
                    continue
                if kinds and (open_kinds.get(org_id, set()) | raised_kinds[org_id]) & kinds:
                    raised += await queued.write(session, outbox)  # it must see what was raised before it
                    linked = await review.supersede(session, outbox, org_id, signal, matched.summary, arrival.caused_by)
                    await session.flush()  # its audit rows before the next events' (their audit steps)
                    if linked:
                        continue
                if arrival.corrects_only:
                    continue
                assert isinstance(signal, SignalReceivedV2)
                for outcome in _outcomes(signal, matched, prior):
                    event_id = deterministic_id("risk-event", signal.signal_id, org_id, outcome.rule.id)
                    if event_id in seen:
                        continue
                    seen.add(event_id)
                    prior[(org_id, outcome.rule.id)] += 1  # a prior event for the signals after this one
                    raised_kinds[org_id].add(signal.kind.value)
                    _queue(queued, outbox, signal, matched, outcome, event_id, arrival.caused_by)
        finally:
            correlation_id.reset(token)
    return raised + await queued.write(session, outbox)


def _outcomes(signal: SignalReceivedV2, matched: Matched, prior: dict[tuple[uuid.UUID, str], int]) -> list[Outcome]:
    """As `service.outcomes`, with the prior events counted for the batch (and by it)."""
    org = matched.organisation
    types = [c.type for c in org.certificates if c.status in ACTIVE]
    escalating = [r.id for r in BASELINE if signal.kind in r.kinds and r.escalate_after]
    before = max([prior[(org.id, rule_id)] for rule_id in escalating], default=0)
    today, context = workdays.today(), Context.of(signal, matched.summary)
    return evaluate(signal.kind, matched.summary.decision, types, before, today, context)


def _queue(
    queued: _Queued,
    outbox: Outbox,
    signal: SignalReceivedV2,
    matched: Matched,
    outcome: Outcome,
    event_id: uuid.UUID,
    caused_by: uuid.UUID,
) -> None:
    """What `service._raise` writes for one event, queued."""
    org = matched.organisation
    values, event = risk_event(signal, matched, outcome, event_id)
    queued.events.append(values)
    queued.audits.append(
        {
            "risk_event_id": event_id,
            "actor": "system",
            "action": "raised",
            "reason": None,
            "detail": {"rule": outcome.rule.id, "escalated": outcome.escalated},
        }
    )
    v1_id = deterministic_id("risk-event-raised", event_id)
    queued.outbox.append(
        {
            "risk_event_id": event_id,
            "event_id": v1_id,
            "topic": Topic.RISK_EVENT_RAISED.value,
            "key": str(org.id),
            "envelope": outbox.envelope(Topic.RISK_EVENT_RAISED, event, v1_id, caused_by),
        }
    )
    rows, v2 = review.raised_rows(event, outcome.clocks, signal)
    queued.clocks.extend(rows)
    v2_id = deterministic_id("risk-event-raised.v2", event_id)
    queued.outbox.append(
        {
            "risk_event_id": event_id,
            "event_id": v2_id,
            "topic": Topic.RISK_EVENT_RAISED_V2.value,
            "key": str(org.id),
            "envelope": outbox.envelope(Topic.RISK_EVENT_RAISED_V2, v2, v2_id, caused_by),
        }
    )
