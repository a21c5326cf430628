"""The rule set (services/rules/ruleset): which rules react to a signal at a match confidence, the severity and
its escalation on a repeat, the measure for CCC holders, and the decision deadline (the earliest statutory clock,
else the rule's own days), as properties over every kind, match decision and certificate mix."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.rules.ruleset.clocks import Context
from services.rules.ruleset.rules import BASELINE, SEVERITY_ORDER, Rule
from services.rules.ruleset.service import _escalate, evaluate
from shared.contracts.ingest import CheckLevel
from shared.contracts.ingest import SignalKind as K
from shared.contracts.rules import ClockKind, MatchDecision, Measure, Severity

TODAY = date(2026, 11, 25)
TYPES = st.lists(st.sampled_from(["QMS", "EMS", "OHSMS", "CCC", "HACCP"]), max_size=3, unique=True)
PROPERTY = settings(max_examples=200, deadline=None)


@PROPERTY
@given(kind=st.sampled_from(K), types=TYPES, prior=st.integers(0, 5))
def test_no_match_raises_nothing(kind: K, types: list[str], prior: int) -> None:
    assert evaluate(kind, MatchDecision.NONE, types, prior, TODAY) == []


@PROPERTY
@given(
    kind=st.sampled_from(K),
    decision=st.sampled_from([MatchDecision.MATCH, MatchDecision.REVIEW]),
    types=TYPES,
    prior=st.integers(0, 5),
)
def test_each_outcome_follows_its_rule(kind: K, decision: MatchDecision, types: list[str], prior: int) -> None:
    outcomes = evaluate(kind, decision, types, prior, TODAY)
    reacting = [
        r
        for r in BASELINE
        if kind in r.kinds and (decision is MatchDecision.MATCH or r.least_match is MatchDecision.REVIEW)
    ]
    assert [o.rule for o in outcomes] == reacting
    for outcome in outcomes:
        rule = outcome.rule
        assert outcome.escalated == (rule.escalate_after is not None and prior >= rule.escalate_after)
        step = SEVERITY_ORDER.index(outcome.severity) - SEVERITY_ORDER.index(rule.severity)
        assert step == (1 if outcome.escalated and rule.severity is not Severity.CRITICAL else 0)
        expected = rule.ccc_measure if rule.ccc_measure and "CCC" in types else rule.measure
        assert outcome.measure is expected
        assert outcome.clocks == () and outcome.decision_due == TODAY + timedelta(days=rule.decision_days)


@PROPERTY
@given(
    kind=st.sampled_from(K),
    types=TYPES,
    prior=st.integers(0, 3),
    level=st.sampled_from(CheckLevel),
    published=st.one_of(st.none(), st.dates(date(2026, 9, 1), TODAY)),
    sure=st.booleans(),
)
def test_with_a_context_the_deadline_is_the_earliest_clock(
    kind: K, types: list[str], prior: int, level: CheckLevel, published: date | None, sure: bool
) -> None:
    context = Context(published_on=published, level=level, confirmed=sure)
    for outcome in evaluate(kind, MatchDecision.MATCH, types, prior, TODAY, context):
        if outcome.clocks:
            assert outcome.decision_due == min(c.due_on for c in outcome.clocks)
        else:
            assert outcome.decision_due == TODAY + timedelta(days=outcome.rule.decision_days)
        kinds = {c.kind for c in outcome.clocks}
        national_ms = kind in (K.SPOT_CHECK_FAILURE, K.FOOD_SPOT_CHECK_FAILURE) and level is CheckLevel.NATIONAL
        assert (ClockKind.SHORT_NOTICE_AUDIT in kinds) == (national_ms and any(t != "CCC" for t in types))
        assert (ClockKind.SUSPENSION in kinds) == (sure and outcome.measure is Measure.SUSPEND)
        assert (ClockKind.WITHDRAWAL in kinds) == (sure and outcome.measure is Measure.WITHDRAW)


def test_escalation_goes_one_step_up_and_stops_at_critical() -> None:
    assert [_escalate(s) for s in SEVERITY_ORDER] == [
        Severity.MEDIUM,
        Severity.HIGH,
        Severity.CRITICAL,
        Severity.CRITICAL,
    ]


def test_a_serious_illegal_listing_matched_by_its_code_is_due_in_five_working_days_not_five_days() -> None:
    """Fri 25 Sep 2026 → the withdrawal clock skips the National Day holiday (1–7 Oct)."""
    [outcome] = evaluate(
        K.SERIOUS_ILLEGAL_LISTED,
        MatchDecision.MATCH,
        ["QMS"],
        0,
        date(2026, 9, 25),
        Context(published_on=date(2026, 9, 24), confirmed=True),
    )
    [clock] = outcome.clocks
    assert clock.kind is ClockKind.WITHDRAWAL and outcome.decision_due == clock.due_on == date(2026, 10, 9)


def test_a_national_spot_check_counts_30_days_from_the_notice_not_from_today() -> None:
    [outcome] = evaluate(
        K.SPOT_CHECK_FAILURE,
        MatchDecision.REVIEW,
        ["QMS"],
        0,
        TODAY,
        Context(published_on=date(2026, 11, 10), level=CheckLevel.NATIONAL),
    )
    assert outcome.decision_due == date(2026, 12, 10)


def test_a_ccc_holder_failing_a_spot_check_is_recommended_suspension_even_with_other_certificates() -> None:
    [outcome] = evaluate(K.FOOD_SPOT_CHECK_FAILURE, MatchDecision.MATCH, ["HACCP", "CCC"], 0, TODAY)
    assert outcome.measure is Measure.SUSPEND
    [outcome] = evaluate(K.FOOD_SPOT_CHECK_FAILURE, MatchDecision.MATCH, ["HACCP"], 0, TODAY)
    assert outcome.measure is Measure.SPECIAL_AUDIT


@pytest.mark.parametrize("kind", [K.RECALL, K.QUALITY_ACCIDENT])
def test_an_accident_or_recall_is_critical_and_never_escalates_further(kind: K) -> None:
    [outcome] = evaluate(kind, MatchDecision.REVIEW, ["QMS"], 9, TODAY)
    assert (outcome.severity, outcome.measure, outcome.escalated) == (Severity.CRITICAL, Measure.SUSPEND, False)
    assert outcome.decision_due == TODAY + timedelta(days=5)


def test_a_rule_set_given_in_place_of_the_baseline_is_the_one_evaluated() -> None:
    strict = Rule(
        "all-recalls",
        2,
        frozenset({K.RECALL}),
        Severity.LOW,
        Measure.REQUEST_EXPLANATION,
        10,
        "召回",
        least_match=MatchDecision.MATCH,
        escalate_after=0,
    )
    [outcome] = evaluate(K.RECALL, MatchDecision.MATCH, [], 0, TODAY, rules=(strict,))
    assert (outcome.rule.id, outcome.severity, outcome.escalated) == ("all-recalls", Severity.MEDIUM, True)
    assert evaluate(K.RECALL, MatchDecision.REVIEW, [], 0, TODAY, rules=(strict,)) == []
    assert evaluate(K.SPOT_CHECK_FAILURE, MatchDecision.MATCH, [], 0, TODAY, rules=(strict,)) == []


def test_every_baseline_rule_names_its_source_and_no_two_share_an_id() -> None:
    assert len({r.id for r in BASELINE}) == len(BASELINE)
    assert all(r.source and r.title and r.decision_days > 0 and r.kinds for r in BASELINE)
    covered = set().union(*(r.kinds for r in BASELINE))
    assert covered == set(K)
