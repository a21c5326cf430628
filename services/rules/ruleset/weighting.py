"""The campaign's risk weighting: how the sweep ranks organisations (DESIGN §11, issue 16).

Data, versioned like the rules: a change of any number here is a new `version`, and every sweep records
the version it ranked with (with the rules' own, in `ruleset_version()`), so two rankings are compared
knowing whether the weighting changed between them.

An organisation's score is the sum of its hits' points, plus points for what is in force today, times
its certificate factor:

- a hit (a signal matched to the organisation) is worth `severity` points (the severity the rules give
  its kind), times its kind's factor, times its match's factor (a lead for review counts less than a
  match), times the product factor (a failing product in a certificate's scope counts more), halved
  every `half_life_days` of age;
- of several hits of one kind, the strongest counts fully and each next one `repeat_factor` times the
  one before (a hundred abnormal-list entries are not a hundred times the risk of one); every other
  kind of signal adds `kinds_bonus`;
- a listing still in force (no later removal), a licence or CCC certificate still lost (no later
  restoration) adds `in_force`; a listing since removed, a licence since restored, counts `lifted_factor`
  of its points;
- the factor of the organisation's most demanding active certificate type multiplies the whole (CCC is
  compulsory: a problem there is a product on the market without a valid certificate); an organisation
  with no active certificate is weighted `no_active_certificate`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

from services.rules.ruleset.rules import BASELINE, Rule
from shared.contracts.ingest import SignalKind as K
from shared.contracts.rules import MatchDecision, Severity

KT = TypeVar("KT")


def _frozen(values: dict[KT, float]) -> Mapping[KT, float]:
    return MappingProxyType(values)


# Which list (or licence) a signal puts an organisation on or takes it off, for "in force".
# A table: one row per list, its listing beside its removal (fmt: skip keeps the rows).
LISTINGS: Mapping[K, tuple[str, bool]] = MappingProxyType({
    K.SERIOUS_ILLEGAL_LISTED: ("serious_illegal", True), K.SERIOUS_ILLEGAL_REMOVED: ("serious_illegal", False),
    K.ABNORMAL_OPERATION_LISTED: ("abnormal_operation", True),
    K.ABNORMAL_OPERATION_REMOVED: ("abnormal_operation", False),
    K.LICENCE_SUSPENDED: ("licence", True), K.LICENCE_REVOKED: ("licence", True),
    K.LICENCE_CANCELLED: ("licence", True), K.LICENCE_EXPIRED: ("licence", True),
    K.LICENCE_RESTORED: ("licence", False),
    K.CCC_SUSPENDED: ("ccc", True), K.CCC_WITHDRAWN: ("ccc", True), K.CCC_CANCELLED: ("ccc", True),
    K.CCC_EXPIRED: ("ccc", True), K.CCC_RESTORED: ("ccc", False),
})  # fmt: skip

# The campaign report's two case lists (DOMAIN.md §6.1 item 4): problems with a product or a
# certificate the body relies on, and the organisation's own standing with the authorities.
MAJOR_PROBLEM = frozenset(
    {
        K.SPOT_CHECK_FAILURE,
        K.FOOD_SPOT_CHECK_FAILURE,
        K.QUALITY_ACCIDENT,
        K.RECALL,
        K.LICENCE_SUSPENDED,
        K.LICENCE_REVOKED,
        K.LICENCE_CANCELLED,
        K.LICENCE_EXPIRED,
        K.CCC_SUSPENDED,
        K.CCC_WITHDRAWN,
        K.CCC_CANCELLED,
        K.CCC_EXPIRED,
    }
)
SUSPECTED_VIOLATION = frozenset({K.SERIOUS_ILLEGAL_LISTED, K.ABNORMAL_OPERATION_LISTED})


@dataclass(frozen=True)
class RiskWeighting:
    id: str
    version: int
    severity: Mapping[Severity, float]
    kind: Mapping[K, float]
    match: Mapping[MatchDecision, float]
    product_in_scope: Mapping[bool | None, float]
    half_life_days: float
    repeat_factor: float
    kinds_bonus: float
    in_force: Mapping[str, float]
    lifted_factor: float
    certificate_type: Mapping[str, float]
    no_active_certificate: float
    bands: tuple[tuple[str, float], ...]  # (band, least score), highest first
    source: str = ""
    rules: tuple[Rule, ...] = field(default=BASELINE, repr=False)

    def certificate_factor(self, types: tuple[str, ...]) -> tuple[float, str | None]:
        """The factor of the most demanding active certificate type, and that type."""
        if not types:
            return self.no_active_certificate, None
        best = max(types, key=lambda t: self.certificate_type.get(t.upper(), 1.0))
        return self.certificate_type.get(best.upper(), 1.0), best

    def band(self, score: float) -> str:
        return next((name for name, least in self.bands if score >= least), "none")


CAMPAIGN_WEIGHTING = RiskWeighting(
    id="campaign-risk",
    version=1,
    severity=_frozen({Severity.CRITICAL: 40.0, Severity.HIGH: 20.0, Severity.MEDIUM: 8.0, Severity.LOW: 0.0}),
    kind=_frozen(
        {
            K.SPOT_CHECK_FAILURE: 1.0,
            K.FOOD_SPOT_CHECK_FAILURE: 1.0,
            K.QUALITY_ACCIDENT: 1.5,
            K.RECALL: 1.2,
            K.SERIOUS_ILLEGAL_LISTED: 1.0,
            K.ABNORMAL_OPERATION_LISTED: 0.8,
            K.LICENCE_SUSPENDED: 0.8,
            K.LICENCE_REVOKED: 1.0,
            K.LICENCE_CANCELLED: 0.8,
            K.LICENCE_EXPIRED: 0.6,
            K.CCC_SUSPENDED: 1.0,
            K.CCC_WITHDRAWN: 1.2,
            K.CCC_CANCELLED: 1.0,
            K.CCC_EXPIRED: 0.6,
        }
    ),  # removals and restorations: 0; they lift a listing instead
    match=_frozen({MatchDecision.MATCH: 1.0, MatchDecision.REVIEW: 0.5}),
    product_in_scope=_frozen({True: 1.5, None: 1.0, False: 0.6}),
    half_life_days=365.0,
    repeat_factor=0.6,
    kinds_bonus=5.0,
    in_force=_frozen({"serious_illegal": 30.0, "abnormal_operation": 10.0, "licence": 20.0, "ccc": 25.0}),
    lifted_factor=0.3,
    certificate_type=_frozen({"CCC": 1.3, "FOOD": 1.2, "HACCP": 1.2, "FSMS": 1.2, "QMS": 1.0, "EMS": 0.9}),
    no_active_certificate=0.5,
    bands=(("high", 40.0), ("medium", 15.0), ("low", 0.01)),
    source="issue 16: severity, recency, number and kinds of signals, product in scope, certificate type",
)


def ruleset_version(weighting: RiskWeighting = CAMPAIGN_WEIGHTING) -> str:
    """`<rules digest>+<weighting>@<version>`: the rules' ids and versions, digested, and the weighting's."""
    rules = ",".join(f"{r.id}@{r.version}" for r in weighting.rules)
    return f"rules-{hashlib.sha256(rules.encode()).hexdigest()[:8]}+{weighting.id}@{weighting.version}"


def ruleset_manifest(weighting: RiskWeighting = CAMPAIGN_WEIGHTING) -> dict[str, object]:
    """Every rule and the weighting, with their versions (kept with each sweep)."""
    return {
        "rules": [{"id": r.id, "version": r.version} for r in weighting.rules],
        "weighting": {"id": weighting.id, "version": weighting.version},
    }
