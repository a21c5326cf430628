"""Events as the services publish them, for tests that feed a projection or a notifier directly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from shared.contracts.ingest import SignalKind
from shared.contracts.rules import MatchDecision, MatchSummary, Measure, RiskEventRaisedV2, Severity


def risk_event_raised(title: str, **fields: Any) -> RiskEventRaisedV2:
    """A spot-check failure matched by credit code, titled `title`, with any field overridden (as v2, which
    a v1 reader reads too)."""
    values: dict[str, Any] = {
        "risk_event_id": uuid.uuid4(), "organisation_id": uuid.uuid4(), "organisation_name": f"{title}有限公司",
        "signal_id": uuid.uuid4(), "signal_kind": SignalKind.SPOT_CHECK_FAILURE, "rule_id": "r", "rule_version": 1,
        "severity": Severity.HIGH, "recommended_measure": Measure.SPECIAL_AUDIT, "title": title, "summary": title,
        "match": MatchSummary(score=1, decision=MatchDecision.MATCH, method="credit_code", explanation="code"),
        "raised_at": datetime.now(UTC),
    }  # fmt: skip
    return RiskEventRaisedV2(**(values | fields))
