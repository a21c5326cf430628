"""The baseline rule set, from the 2017 notice and the trigger-to-action matrix (DOMAIN.md §3.6).

Rules are data: each names the signal kinds it reacts to, the least match confidence it needs, a
severity, the recommended measure (and the one for CCC certificates) and a deadline to decide; the
statutory clocks an event starts, each with its legal basis, are `clocks.py`, and set the deadline when
one runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.contracts.ingest import SignalKind as K
from shared.contracts.rules import MatchDecision, Measure, Severity

SEVERITY_ORDER = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]


@dataclass(frozen=True)
class Rule:
    id: str
    version: int
    kinds: frozenset[K]
    severity: Severity
    measure: Measure
    decision_days: int  # the deadline to decide when no statutory clock runs
    title: str
    ccc_measure: Measure | None = None
    least_match: MatchDecision = MatchDecision.REVIEW
    escalate_after: int | None = field(default=None, metadata={"doc": "prior events in 12 months"})
    source: str = ""


BASELINE: tuple[Rule, ...] = (
    Rule(
        "spot-check-failure",
        1,
        frozenset({K.SPOT_CHECK_FAILURE, K.FOOD_SPOT_CHECK_FAILURE}),
        Severity.HIGH,
        Measure.SPECIAL_AUDIT,
        30,
        "产品监督抽查不合格",
        ccc_measure=Measure.SUSPEND,
        escalate_after=1,
        source="CNCA-QMS-01:2025 §5.9.3 (short-notice audit within 30 days); CCC rule Art. 27(3)",
    ),
    Rule(
        "quality-accident",
        1,
        frozenset({K.QUALITY_ACCIDENT, K.RECALL}),
        Severity.CRITICAL,
        Measure.SUSPEND,
        5,
        "产品质量安全事故",
        ccc_measure=Measure.SUSPEND,
        source="认证机构管理办法 Art. 21 (suspend within 5 days); CCC rule Art. 28(1)",
    ),
    Rule(
        "serious-illegal-listed",
        1,
        frozenset({K.SERIOUS_ILLEGAL_LISTED}),
        Severity.CRITICAL,
        Measure.WITHDRAW,
        5,
        "列入严重违法失信名单",
        source="QMS rule 2016 §7.3.1(2) (withdraw within 5 working days); 认证机构管理办法 Art. 17",
    ),
    Rule(
        "abnormal-operation-listed",
        1,
        frozenset({K.ABNORMAL_OPERATION_LISTED}),
        Severity.MEDIUM,
        Measure.REQUEST_EXPLANATION,
        30,
        "列入经营异常名录",
        source="QMS rule 2016 §7.3.1(8) [judgement]",
    ),
    Rule(
        "licence-or-ccc-lost",
        1,
        frozenset(
            {
                K.LICENCE_SUSPENDED,
                K.LICENCE_REVOKED,
                K.LICENCE_CANCELLED,
                K.LICENCE_EXPIRED,
                K.CCC_SUSPENDED,
                K.CCC_WITHDRAWN,
                K.CCC_CANCELLED,
                K.CCC_EXPIRED,
            }
        ),
        Severity.HIGH,
        Measure.SUSPEND,
        5,
        "许可证或强制性认证证书失效",
        source="QMS rule 2016 §7.3.1(7): suspend, then withdraw if unresolved",
    ),
    Rule(
        "listing-removed",
        1,
        frozenset({K.SERIOUS_ILLEGAL_REMOVED, K.ABNORMAL_OPERATION_REMOVED, K.LICENCE_RESTORED, K.CCC_RESTORED}),
        Severity.LOW,
        Measure.CLOSE,
        30,
        "移出名单或恢复资格",
        least_match=MatchDecision.MATCH,
        source="close or downgrade the open event",
    ),
)
