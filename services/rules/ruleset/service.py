"""Evaluating the rule set against one matched signal: pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from services.rules.ruleset.rules import BASELINE, SEVERITY_ORDER, Rule
from shared.contracts.ingest import SignalKind
from shared.contracts.rules import MatchDecision, Measure, Severity


@dataclass(frozen=True)
class Outcome:
    rule: Rule
    severity: Severity
    measure: Measure
    decision_due: date
    escalated: bool


def _strong_enough(decision: MatchDecision, least: MatchDecision) -> bool:
    return decision is MatchDecision.MATCH or (decision is MatchDecision.REVIEW and least is MatchDecision.REVIEW)


def _escalate(severity: Severity) -> Severity:
    return SEVERITY_ORDER[min(SEVERITY_ORDER.index(severity) + 1, len(SEVERITY_ORDER) - 1)]


def evaluate(
    kind: SignalKind,
    decision: MatchDecision,
    certificate_types: list[str],
    prior_events: int,
    today: date,
    rules: tuple[Rule, ...] = BASELINE,
) -> list[Outcome]:
    """The outcomes of every rule that reacts to this kind of signal at this match confidence."""
    outcomes = []
    for rule in rules:
        if kind not in rule.kinds or not _strong_enough(decision, rule.least_match):
            continue
        escalated = rule.escalate_after is not None and prior_events >= rule.escalate_after
        severity = _escalate(rule.severity) if escalated else rule.severity
        measure = rule.ccc_measure if rule.ccc_measure and "CCC" in certificate_types else rule.measure
        outcomes.append(Outcome(rule, severity, measure, today + timedelta(days=rule.decision_days), escalated))
    return outcomes
