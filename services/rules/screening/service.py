"""Screening a signal: match it to certified organisations, evaluate the rules, raise risk events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.matcher.index import RegistryIndex
from services.rules.matcher.relevance import product_in_scope
from services.rules.registry import repository as registry
from services.rules.registry.models import Organisation
from services.rules.review import repository as review
from services.rules.ruleset.rules import BASELINE
from services.rules.ruleset.service import Outcome, evaluate
from shared.contracts import Topic, deterministic_id
from shared.contracts.ingest import CreditCodeStatus, SignalReceived
from shared.contracts.rules import (
    CertificateRef,
    CertificateStatus,
    MatchDecision,
    MatchSummary,
    RiskEventRaised,
)
from shared.kafka.outbox import Outbox

ACTIVE = {CertificateStatus.VALID.value, CertificateStatus.SUSPENDED.value}
USABLE = (CreditCodeStatus.VALID, CreditCodeStatus.VALID_LEGACY)


@dataclass(frozen=True)
class Matched:
    organisation: Organisation
    summary: MatchSummary


async def find_matches(session: AsyncSession, index: RegistryIndex, signal: SignalReceived) -> list[Matched]:
    """Candidates from the in-memory index (no database trip unless something matches); a bulletin
    names the producer claimed on the label, so a name match is a lead for a human, never a finding."""
    subject = signal.subject
    code = subject.credit_code if subject.credit_code_status in USABLE else None
    matched = []
    for candidate in index.match(subject.name, code, subject.address, subject.province):
        if candidate.decision is MatchDecision.NONE:
            continue
        org = await registry.get(session, uuid.UUID(candidate.org_id))
        if org is not None:
            matched.append(Matched(org, candidate.summary(_relevance(signal, org))))
    return matched


def _relevance(signal: SignalReceived, org: Organisation) -> bool | None:
    product = signal.product
    if product is None:
        return None
    verdicts = [product_in_scope(product.name, product.model, c.scope, c.products) for c in org.certificates]
    return True if True in verdicts else (False if False in verdicts else None)


async def screen(
    session: AsyncSession, outbox: Outbox, index: RegistryIndex, signal: SignalReceived, caused_by: uuid.UUID
) -> int:
    """Raise the risk events this signal calls for; returns how many were new."""
    raised = 0
    for matched in await find_matches(session, index, signal):
        for outcome in await outcomes(session, signal, matched):
            raised += await _raise(session, outbox, signal, matched, outcome, caused_by)
    return raised


async def outcomes(session: AsyncSession, signal: SignalReceived, matched: Matched) -> list[Outcome]:
    """Rule outcomes; repeats within 12 months (e.g. a second failure) escalate the severity."""
    org = matched.organisation
    types = [c.type for c in org.certificates if c.status in ACTIVE]
    since = datetime.now(UTC) - timedelta(days=365)
    escalating = [r.id for r in BASELINE if signal.kind in r.kinds and r.escalate_after]
    prior = max([await review.count_since(session, org.id, rule_id, since) for rule_id in escalating], default=0)
    return evaluate(signal.kind, matched.summary.decision, types, prior, datetime.now(UTC).date())


async def _raise(
    session: AsyncSession,
    outbox: Outbox,
    signal: SignalReceived,
    matched: Matched,
    outcome: Outcome,
    caused_by: uuid.UUID,
) -> int:
    org = matched.organisation
    event_id = deterministic_id("risk-event", signal.signal_id, org.id, outcome.rule.id)
    title = f"{outcome.rule.title}：{org.name}"
    summary = _summary(signal, outcome)
    values = {
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
        "match": matched.summary.model_dump(mode="json"),
    }
    if not await review.add(session, values):
        return 0
    review.audit(session, event_id, "system", "raised", rule=outcome.rule.id, escalated=outcome.escalated)
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
    await outbox.add(
        session,
        Topic.RISK_EVENT_RAISED,
        str(org.id),
        event,
        event_id=deterministic_id("risk-event-raised", event_id),
        causation_id=caused_by,
    )
    return 1


def _summary(signal: SignalReceived, outcome: Outcome) -> str:
    detail = signal.detail
    parts = [f"信号：{signal.kind.value}"]
    if signal.product and signal.product.name:
        parts.append(f"产品：{signal.product.name}")
    if detail.failed_items:
        parts.append("不合格项目：" + "、".join(i.item for i in detail.failed_items))
    if detail.bulletin_no:
        parts.append(f"公告：{detail.bulletin_no}")
    if detail.reason:
        parts.append(f"原因：{detail.reason}")
    parts.append(f"建议措施：{outcome.measure.value}（{outcome.rule.source}）")
    return "；".join(parts)
