"""Evaluating the rule set against one matched signal: pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from services.rules.ruleset.clocks import Context, Deadline, on_raise
from services.rules.ruleset.rules import BASELINE, SEVERITY_ORDER, Rule
from shared.contracts.ingest import SignalKind
from shared.contracts.rules import MatchDecision, Measure, Severity


@dataclass(frozen=True)
class Outcome:
    rule: Rule
    severity: Severity
    measure: Measure
    decision_due: date  # the earliest statutory clock's due date, else the rule's own deadline
    escalated: bool
    clocks: tuple[Deadline, ...] = ()


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
    context: Context | None = None,
    rules: tuple[Rule, ...] = BASELINE,
) -> list[Outcome]:
    """The outcomes of every rule that reacts to this kind of signal at this match confidence, each with the
    statutory clocks it starts (given the signal's `context`: the notice's date and level, a sure match)."""
    outcomes = []
    for rule in rules:
        if kind not in rule.kinds or not _strong_enough(decision, rule.least_match):
            continue
        escalated = rule.escalate_after is not None and prior_events >= rule.escalate_after
        severity = _escalate(rule.severity) if escalated else rule.severity
        measure = rule.ccc_measure if rule.ccc_measure and "CCC" in certificate_types else rule.measure
        clocks = tuple(on_raise(kind, measure, certificate_types, context, today)) if context else ()
        due = min((c.due_on for c in clocks), default=today + timedelta(days=rule.decision_days))
        outcomes.append(Outcome(rule, severity, measure, due, escalated, clocks))
    return outcomes
