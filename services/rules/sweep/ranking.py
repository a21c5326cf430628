"""An organisation's campaign risk: its score by the ruleset's weighting, and the reasons, in words.

Pure: the sweep collects each organisation's hits and calls `rank` once per organisation at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.rules.ruleset.weighting import CAMPAIGN_WEIGHTING, LISTINGS, RiskWeighting
from services.rules.sweep.labels import MATCH_DECISION, PRODUCT_IN_SCOPE, SEVERITY, SIGNAL_KIND, listing_label
from shared.contracts.ingest import SignalKind
from shared.contracts.rules import MatchDecision, Severity

SHOWN_HITS = 10  # hits explained one by one; the rest are summed in one line


@dataclass(frozen=True, slots=True)
class Hit:
    """What the ranking needs of one signal matched to one organisation."""

    kind: SignalKind
    severity: Severity | None  # what the rules give the kind at this match (None: no rule reacts)
    on: date | None  # the signal's date: published, listed or removed on
    decision: MatchDecision
    in_scope: bool | None
    listing: str | None = None  # `ccc:<number>` etc.: which listing or licence the signal is about


@dataclass(frozen=True)
class Reason:
    factor: str  # hit | repeat | kinds | in_force | lifted | certificate | total
    text: str
    points: float

    def as_json(self) -> dict[str, object]:
        return {"factor": self.factor, "text": self.text, "points": round(self.points, 2)}


@dataclass(frozen=True)
class Ranked:
    score: float
    band: str
    reasons: tuple[Reason, ...]
    in_force: tuple[str, ...]  # listing keys in force at the sweep's date


def listing_key(kind: SignalKind, certificate_no: str | None) -> str | None:
    """The listing a signal is about: one per list, one per licence or CCC certificate number."""
    if kind not in LISTINGS:
        return None
    family = LISTINGS[kind][0]
    return f"{family}:{certificate_no}" if family in ("licence", "ccc") and certificate_no else family


def in_force(hits: list[Hit], as_of: date) -> tuple[set[str], set[str]]:
    """Listings whose latest signal lists (in force) and those whose latest signal lifts them. On the
    same day a removal is taken to follow the listing."""
    latest: dict[str, tuple[date, int]] = {}
    for hit in hits:
        if hit.listing is None:
            continue
        listed = LISTINGS[hit.kind][1]
        when = (hit.on or as_of, 0 if listed else 1)
        if hit.listing not in latest or when >= latest[hit.listing]:
            latest[hit.listing] = when
    return {k for k, (_, lifted) in latest.items() if not lifted}, {k for k, (_, lifted) in latest.items() if lifted}


def rank(
    hits: list[Hit], certificate_types: tuple[str, ...], as_of: date, weighting: RiskWeighting = CAMPAIGN_WEIGHTING
) -> Ranked:
    """The organisation's score and, for each part of it, why."""
    w = weighting
    listed, lifted = in_force(hits, as_of)
    scored: list[tuple[float, Hit, str]] = []
    for hit in hits:
        points, text = _hit_points(hit, hit.listing in lifted, as_of, w)
        if points > 0:
            scored.append((points, hit, text))
    scored.sort(key=lambda s: -s[0])
    reasons: list[Reason] = []
    seen: dict[SignalKind, int] = {}
    rest, rest_points = 0, 0.0
    for points, hit, text in scored:
        n = seen[hit.kind] = seen.get(hit.kind, 0) + 1
        if n > 1:
            points *= w.repeat_factor ** (n - 1)
            text += f"；同类第 {n} 条 × {w.repeat_factor ** (n - 1):.2f}"
        if len(reasons) < SHOWN_HITS:
            reasons.append(Reason("hit", f"{text} = {points:.1f} 分", points))
        else:
            rest, rest_points = rest + 1, rest_points + points
    if rest:
        reasons.append(Reason("hit", f"其余 {rest} 条信号合计 {rest_points:.1f} 分", rest_points))
    if len(seen) > 1:
        bonus = w.kinds_bonus * (len(seen) - 1)
        kinds = "、".join(SIGNAL_KIND.get(k.value, k.value) for k in seen)
        reasons.append(Reason("kinds", f"{len(seen)} 类信号（{kinds}）：每多一类 +{w.kinds_bonus:g} 分", bonus))
    for key in sorted(listed):
        family = key.split(":", 1)[0]
        points = w.in_force.get(family, 0.0)
        what = listing_label(key)
        state = "在列" if family in ("serious_illegal", "abnormal_operation") else "失效未恢复"
        reasons.append(Reason("in_force", f"{what}：截至 {as_of.isoformat()} 仍{state} +{points:g} 分", points))
    subtotal = sum(r.points for r in reasons)
    factor, decisive = w.certificate_factor(certificate_types)
    held = f"有效证书类型 {decisive}" if decisive else "无有效证书"
    reasons.append(Reason("certificate", f"{held}：× {factor:g}", subtotal * (factor - 1)))
    score = round(subtotal * factor, 2)
    summary = f"合计 {score:g} 分（{w.id} 第 {w.version} 版）"
    reasons.append(Reason("total", summary, score))
    return Ranked(score, w.band(score), tuple(reasons), tuple(sorted(listed)))


def _hit_points(hit: Hit, lifted: bool, as_of: date, w: RiskWeighting) -> tuple[float, str]:
    if hit.severity is None or hit.decision not in w.match:
        return 0.0, ""
    base, kind = w.severity.get(hit.severity, 0.0), w.kind.get(hit.kind, 0.0)
    if base * kind == 0:
        return 0.0, ""
    age = max((as_of - hit.on).days, 0) if hit.on else 0
    recency = 0.5 ** (age / w.half_life_days)
    match, scope = w.match[hit.decision], w.product_in_scope.get(hit.in_scope, 1.0)
    points = base * kind * match * scope * recency
    when = hit.on.isoformat() if hit.on else "日期不详"
    parts = [
        f"严重程度{SEVERITY.get(hit.severity.value, hit.severity.value)} {base:g} 分",
        f"类别 × {kind:g}",
        f"{MATCH_DECISION.get(hit.decision.value, hit.decision.value)} × {match:g}",
        f"{PRODUCT_IN_SCOPE[hit.in_scope]} × {scope:g}",
        f"时效 × {recency:.2f}（{age} 天前）",
    ]
    if lifted:
        points *= w.lifted_factor
        parts.append(f"已移出或恢复 × {w.lifted_factor:g}")
    return points, f"{SIGNAL_KIND.get(hit.kind.value, hit.kind.value)} {when}：" + "，".join(parts)
