"""What screening builds on, one signal or a batch: the organisations a signal matches (the best candidate and
party of each) and the recipe of a risk event (the row it stores, the event it publishes). service.py (one
signal at a time, the self-reports, the replay) and batch.py (the consumer's batches) both use them; batch.py
imports this, not service.py, so that service.py can offer the batch's replay to the other sub-domains."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from services.rules.matcher.index import Candidate, RegistryIndex
from services.rules.matcher.relevance import product_in_scope
from services.rules.ruleset.service import Outcome
from services.rules.tables import Organisation
from shared.contracts.ingest import Party, SignalReceivedV2, SignalV2
from shared.contracts.rules import CertificateRef, CertificateStatus, MatchDecision, MatchSummary, RiskEventRaised
from shared.labels import label
from shared.parties import role_text

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


def relevance(signal: SignalV2, org: Organisation) -> bool | None:
    product = signal.product
    if product is None:
        return None
    verdicts = [product_in_scope(product.name, product.model, c.scope, c.products) for c in org.certificates]
    return True if True in verdicts else (False if False in verdicts else None)


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
