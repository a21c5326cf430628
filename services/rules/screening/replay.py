"""Stored signals through the current rule set (DESIGN §2): "what would these rules raise?", after a rule
or registry change, and, applied, the recovery of events that should have been raised. A dry run writes
nothing; applying raises only what is missing (event ids are deterministic, so nothing is raised twice)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.matcher.index import RegistryIndex
from services.rules.review import service as review
from services.rules.screening.batch import Arrival, screen_batch
from services.rules.screening.service import find_matches, outcomes
from shared.contracts import deterministic_id
from shared.contracts.ingest import SignalReceivedV2
from shared.kafka.outbox import Outbox


@dataclass(frozen=True)
class Finding:
    signal_id: str
    organisation_id: str
    organisation_name: str
    rule_id: str
    rule_version: int
    severity: str
    recommended_measure: str
    match_decision: str
    match_score: float
    already_raised: bool


async def dry_run(session: AsyncSession, index: RegistryIndex, signals: list[SignalReceivedV2]) -> list[Finding]:
    """Every risk event the current rules would raise for these signals, and whether it exists already."""
    found = []
    for signal in signals:
        for matched in await find_matches(session, index, signal):
            org = matched.organisation
            for outcome in await outcomes(session, signal, matched):
                event_id = deterministic_id("risk-event", signal.signal_id, org.id, outcome.rule.id)
                found.append(Finding(
                    str(signal.signal_id), str(org.id), org.name, outcome.rule.id, outcome.rule.version,
                    outcome.severity.value, outcome.measure.value, matched.summary.decision.value,
                    matched.summary.score, await review.exists(session, event_id),
                ))  # fmt: skip
    return found


async def apply(session: AsyncSession, outbox: Outbox, index: RegistryIndex, signals: list[SignalReceivedV2]) -> int:
    """Raise what the current rules call for and is not raised yet; returns how many were raised. Set-based, as
    the consumer screens a batch (screening/batch.py: the same events as one signal after another)."""
    arrivals = [Arrival(s, deterministic_id("replay", s.signal_id)) for s in signals]
    return await screen_batch(session, outbox, index, arrivals)
