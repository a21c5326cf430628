"""Screening a signal: match it to certified organisations, evaluate the rules, raise risk events."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.matcher.index import Candidate, RegistryIndex
from services.rules.matcher.relevance import product_in_scope
from services.rules.matcher.thread import on_matcher_thread
from services.rules.registry import repository as registry
from services.rules.registry.models import Organisation
from services.rules.review import service as review
from services.rules.ruleset.clocks import Context
from services.rules.ruleset.rules import BASELINE
from services.rules.ruleset.service import Outcome, evaluate
from shared.contracts import deterministic_id
from shared.contracts.ingest import (
    V3_ONLY_KINDS,
    Party,
    ProductV2,
    SignalDetail,
    SignalKind,
    SignalReceivedV2,
    SignalV2,
    Subject,
)
from shared.contracts.notify import SelfReported, SelfReportProblem
from shared.contracts.rules import (
    CertificateRef,
    CertificateStatus,
    MatchDecision,
    MatchSummary,
    RiskEventRaised,
)
from shared.kafka.outbox import Outbox
from shared.labels import label
from shared.parties import role_text

log = logging.getLogger(__name__)
ACTIVE = {CertificateStatus.VALID.value, CertificateStatus.SUSPENDED.value}


_RANK = {MatchDecision.MATCH: 2, MatchDecision.REVIEW: 1, MatchDecision.NONE: 0}


@dataclass(frozen=True)
class Matched:
    organisation: Organisation
    summary: MatchSummary
    party: Party | None = None  # the party of the signal this organisation was found as, when it names roles

    def party_json(self) -> dict[str, str | None] | None:
        if self.party is None:
            return None
        return {"role": self.party.role, "role_label": self.party.role_label, "name": self.party.name}


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
        org = await registry.get(session, uuid.UUID(org_id))
        if org is None:
            continue
        summary = candidate.summary(_relevance(signal, org))
        if roles:
            named = role_text(party.role, party.role_label)
            summary = summary.model_copy(update={"explanation": f"{named}「{party.name}」: {summary.explanation}"})
        matched.append(Matched(org, summary, party if roles else None))
    return matched


def best_candidates(index: RegistryIndex, signal: SignalV2) -> dict[str, tuple[Candidate, Party]]:
    """Each organisation some party of the signal matches, with its best candidate and that party."""
    best: dict[str, tuple[Candidate, Party]] = {}
    for party in signal.all_parties():
        code = party.usable_code
        province = party.province or signal.subject.province
        for candidate in index.match(party.name, code, party.address, province):
            if candidate.decision is MatchDecision.NONE:
                continue
            held = best.get(candidate.org_id)
            if held is None or (_RANK[candidate.decision], candidate.score) > (_RANK[held[0].decision], held[0].score):
                best[candidate.org_id] = (candidate, party)
    return best


def _relevance(signal: SignalV2, org: Organisation) -> bool | None:
    product = signal.product
    if product is None:
        return None
    verdicts = [product_in_scope(product.name, product.model, c.scope, c.products) for c in org.certificates]
    return True if True in verdicts else (False if False in verdicts else None)


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
    org = await registry.get(session, report.organisation_id)
    if org is None:
        log.warning("self-report %s names unknown organisation %s: nothing raised", report.report_id,
                    report.organisation_id)  # fmt: skip
        return 0
    signal = SignalReceivedV2(
        signal_id=report.report_id, feed=SELF_REPORT_FEED, kind=SELF_REPORTED_KINDS[report.problem],
        subject=Subject(name=org.name, credit_code=org.credit_code, role="self_report"),
        product=ProductV2(name=report.product) if report.product else None,
        detail=SignalDetail(reason=report.description, note="自查自纠（组织自行报告）"),
        published_on=report.occurred_on or report.reported_at.date(),
    )  # fmt: skip
    summary = MatchSummary(
        score=1.0, decision=MatchDecision.MATCH, method="self_report",
        explanation="组织经签名链接自行报告（自查自纠）: the organisation reported it itself, through its signed link",
    )  # fmt: skip
    matched = Matched(org, summary.model_copy(update={"product_in_scope": _relevance(signal, org)}))
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
    today, context = datetime.now(UTC).date(), Context.of(signal, matched.summary)  # context: the clocks (issue 15)
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


def risk_event(
    signal: SignalReceivedV2, matched: Matched, outcome: Outcome, event_id: uuid.UUID
) -> tuple[dict[str, object], RiskEventRaised]:
    """What raising one event stores (the row's values) and publishes (the payload): one recipe for the
    one-by-one path here and the batch path (screening/batch.py)."""
    org = matched.organisation
    title = f"{outcome.rule.title}：{org.name}"
    if matched.party is not None:
        title += f"（{matched.party.role_label or role_text(matched.party.role).split(' ')[0]}）"
    summary = _summary(signal, outcome, matched.party)
    values: dict[str, object] = {
        "id": event_id,
        "organisation_id": org.id,
        "signal_id": signal.signal_id,
        "signal_kind": signal.kind.value,
        "signal": signal.model_dump(mode="json"),
        "rule_id": outcome.rule.id,
        "rule_version": outcome.rule.version,
        "severity": outcome.severity.value,
        "recommended_measure": outcome.measure.value,
        "status": "open",
        "title": title,
        "summary": summary,
        "decision_due": outcome.decision_due,
        "match": {**matched.summary.model_dump(mode="json"), "party": matched.party_json()},
    }
    event = RiskEventRaised(
        risk_event_id=event_id,
        organisation_id=org.id,
        organisation_name=org.name,
        signal_id=signal.signal_id,
        signal_kind=signal.kind,
        rule_id=outcome.rule.id,
        rule_version=outcome.rule.version,
        severity=outcome.severity,
        recommended_measure=outcome.measure,
        title=title,
        summary=summary,
        decision_due=outcome.decision_due,
        province=org.province,
        certificates=[
            CertificateRef(certificate_id=c.id, number=c.number, type=c.type, status=CertificateStatus(c.status))
            for c in org.certificates
        ],
        match=matched.summary,
        raised_at=datetime.now(UTC),
    )
    return values, event


def _summary(signal: SignalReceivedV2, outcome: Outcome, party: Party | None = None) -> str:
    detail = signal.detail
    parts = [f"信号：{label(signal.kind)}"]
    if party is not None:
        parts.append(f"角色：{party.role_label or role_text(party.role)}")
    if signal.product and signal.product.name:
        parts.append(f"产品：{signal.product.name}")
    if detail.failed_items:
        parts.append("不合格项目：" + "、".join(i.item for i in detail.failed_items))
    if detail.bulletin_no:
        parts.append(f"公告：{detail.bulletin_no}")
    if detail.reason:
        parts.append(f"原因：{detail.reason}")
    parts.append(f"建议措施：{label(outcome.measure)}（{outcome.rule.source}）")
    return "；".join(parts)
