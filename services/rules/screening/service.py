"""Screening a signal: match it to certified organisations, evaluate the rules, raise risk events."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.matcher.index import RegistryIndex
from services.rules.matcher.thread import on_matcher_thread
from services.rules.registry import service as registry
from services.rules.review import service as review
from services.rules.ruleset.clocks import Context
from services.rules.ruleset.rules import BASELINE
from services.rules.ruleset.service import Outcome, evaluate
from services.rules.screening.batch import Arrival, screen_batch
from services.rules.screening.matching import ACTIVE as ACTIVE
from services.rules.screening.matching import Matched, relevance, risk_event
from services.rules.screening.matching import best_candidates as best_candidates
from shared import workdays
from shared.contracts import deterministic_id
from shared.contracts.ingest import (
    V3_ONLY_KINDS,
    ProductV2,
    SignalDetail,
    SignalKind,
    SignalReceivedV2,
    SignalV2,
    Subject,
)
from shared.contracts.notify import SelfReported, SelfReportProblem
from shared.contracts.rules import (
    MatchDecision,
    MatchSummary,
)
from shared.kafka.outbox import Outbox
from shared.parties import role_text

log = logging.getLogger(__name__)


async def find_matches(session: AsyncSession, index: RegistryIndex, signal: SignalV2) -> list[Matched]:
    """Candidates for every party the signal names (委托方 and 受委托方, 生产商 and 经销商, …), from the
    in-memory index on the matcher's thread (no database trip unless something matches); one per
    organisation, its best party.

    A bulletin names the producer claimed on the label, so a name match is a lead for a human, never
    a finding."""
    parties = signal.all_parties()
    roles = len(parties) > 1 or any(p.role_label for p in parties)
    matched = []
    for org_id, (candidate, party) in (await on_matcher_thread(best_candidates, index, signal)).items():
        org = await registry.find(session, uuid.UUID(org_id))
        if org is None:
            continue
        summary = candidate.summary(relevance(signal, org))
        if roles:
            named = role_text(party.role, party.role_label)
            summary = summary.model_copy(update={"explanation": f"{named}「{party.name}」: {summary.explanation}"})
        matched.append(Matched(org, summary, party if roles else None))
    return matched


async def screen(
    session: AsyncSession, outbox: Outbox, index: RegistryIndex, signal: SignalReceivedV2, caused_by: uuid.UUID
) -> int:
    """Raise the risk events this signal calls for; returns how many were new. A removal from a list or a
    restored licence first links to the open event it corrects (superseded, pending confirmation: issue 15 §3);
    only with none to correct does it raise an event of its own, as before."""
    raised = 0
    for matched in await find_matches(session, index, signal):
        org_id = matched.organisation.id
        if await review.supersede(session, outbox, org_id, signal, matched.summary, caused_by):
            continue
        for outcome in await outcomes(session, signal, matched):
            raised += await _raise(session, outbox, signal, matched, outcome, caused_by)
    return raised


# A self-report (自查自纠, notify.self-reported.v1) is screened under the rule of the problem it reports.
SELF_REPORTED_KINDS = {
    SelfReportProblem.SPOT_CHECK_FAILURE: SignalKind.SPOT_CHECK_FAILURE,
    SelfReportProblem.QUALITY_ACCIDENT: SignalKind.QUALITY_ACCIDENT,
    SelfReportProblem.SERIOUS_ILLEGAL_LISTED: SignalKind.SERIOUS_ILLEGAL_LISTED,
    SelfReportProblem.LICENCE_LOST: SignalKind.LICENCE_EXPIRED,
}
SELF_REPORT_FEED = "self-report"


async def screen_self_report(session: AsyncSession, outbox: Outbox, report: SelfReported, caused_by: uuid.UUID) -> int:
    """A problem an organisation reported itself: a signal (its id the report's) that raises a risk event as any
    other does, under the rule of the problem it names. The organisation is known (its signed link), so the
    match is its id, never a name search."""
    org = await registry.find(session, report.organisation_id)
    if org is None:
        log.warning(
            "self-report %s names unknown organisation %s: nothing raised", report.report_id, report.organisation_id
        )
        return 0
    signal = SignalReceivedV2(
        signal_id=report.report_id,
        feed=SELF_REPORT_FEED,
        kind=SELF_REPORTED_KINDS[report.problem],
        subject=Subject(name=org.name, credit_code=org.credit_code, role="self_report"),
        product=ProductV2(name=report.product) if report.product else None,
        detail=SignalDetail(reason=report.description, note="自查自纠（组织自行报告）"),
        published_on=report.occurred_on or report.reported_at.date(),
    )
    summary = MatchSummary(
        score=1.0,
        decision=MatchDecision.MATCH,
        method="self_report",
        explanation="组织经签名链接自行报告（自查自纠）: the organisation reported it itself, through its signed link",
    )
    matched = Matched(org, summary.model_copy(update={"product_in_scope": relevance(signal, org)}))
    return sum(
        [await _raise(session, outbox, signal, matched, o, caused_by) for o in await outcomes(session, signal, matched)]
    )


async def correct(
    session: AsyncSession, outbox: Outbox, index: RegistryIndex, signal: SignalV2, caused_by: uuid.UUID
) -> int:
    """A signal that overturns an earlier one (v3: 复检合格, 异议成立): it raises nothing; it links to the open
    events it corrects, each then superseded pending a decision-maker's confirmation. Returns how many."""
    assert signal.kind in V3_ONLY_KINDS, signal.kind
    linked = 0
    for matched in await find_matches(session, index, signal):
        org_id = matched.organisation.id
        linked += len(await review.supersede(session, outbox, org_id, signal, matched.summary, caused_by))
    if not linked:
        log.info("signal %s (%s) corrects no open risk event", signal.signal_id, signal.kind.value)
    return linked


async def outcomes(session: AsyncSession, signal: SignalReceivedV2, matched: Matched) -> list[Outcome]:
    """Rule outcomes; repeats within 12 months (e.g. a second failure) escalate the severity."""
    org = matched.organisation
    types = [c.type for c in org.certificates if c.status in ACTIVE]
    since = datetime.now(UTC) - timedelta(days=365)
    escalating = [r.id for r in BASELINE if signal.kind in r.kinds and r.escalate_after]
    prior = max([await review.count_since(session, org.id, rule_id, since) for rule_id in escalating], default=0)
    today, context = workdays.today(), Context.of(signal, matched.summary)  # context: the clocks (issue 15)
    return evaluate(signal.kind, matched.summary.decision, types, prior, today, context)


async def _raise(
    session: AsyncSession,
    outbox: Outbox,
    signal: SignalReceivedV2,
    matched: Matched,
    outcome: Outcome,
    caused_by: uuid.UUID,
) -> int:
    event_id = deterministic_id("risk-event", signal.signal_id, matched.organisation.id, outcome.rule.id)
    values, event = risk_event(signal, matched, outcome, event_id)
    raised = await review.raise_event(
        session, outbox, values, event, outcome.clocks, signal, caused_by, outcome.escalated
    )
    return int(raised)


# Stored signals through the current rule set (DESIGN §2): "what would these rules raise?", after a rule or
# registry change, and, applied, the recovery of events that should have been raised (and the sweep's). A dry
# run writes nothing; applying raises only what is missing (event ids are deterministic: nothing twice).


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


async def replay_dry_run(session: AsyncSession, index: RegistryIndex, signals: list[SignalReceivedV2]) -> list[Finding]:
    """Every risk event the current rules would raise for these signals, and whether it exists already."""
    found = []
    for signal in signals:
        for matched in await find_matches(session, index, signal):
            org = matched.organisation
            for outcome in await outcomes(session, signal, matched):
                event_id = deterministic_id("risk-event", signal.signal_id, org.id, outcome.rule.id)
                found.append(
                    Finding(
                        str(signal.signal_id),
                        str(org.id),
                        org.name,
                        outcome.rule.id,
                        outcome.rule.version,
                        outcome.severity.value,
                        outcome.measure.value,
                        matched.summary.decision.value,
                        matched.summary.score,
                        await review.exists(session, event_id),
                    )
                )
    return found


async def replay(session: AsyncSession, outbox: Outbox, index: RegistryIndex, signals: list[SignalReceivedV2]) -> int:
    """Raise what the current rules call for and is not raised yet; returns how many were raised. Set-based, as
    the consumer screens a batch (screening/batch.py: the same events as one signal after another)."""
    arrivals = [Arrival(s, deterministic_id("replay", s.signal_id)) for s in signals]
    return await screen_batch(session, outbox, index, arrivals)
