from datetime import date

from services.rules.ruleset.service import evaluate
from shared.contracts.ingest import SignalKind as K
from shared.contracts.rules import MatchDecision, Measure, Severity

TODAY = date(2026, 11, 25)


def test_spot_check_failure_asks_for_a_special_audit_within_30_days() -> None:
    [outcome] = evaluate(K.SPOT_CHECK_FAILURE, MatchDecision.MATCH, ["QMS"], 0, TODAY)
    assert outcome.measure is Measure.SPECIAL_AUDIT
    assert outcome.decision_due == date(2026, 12, 25)
    assert outcome.severity is Severity.HIGH and not outcome.escalated


def test_spot_check_failure_on_a_ccc_holder_recommends_suspension() -> None:
    [outcome] = evaluate(K.SPOT_CHECK_FAILURE, MatchDecision.MATCH, ["QMS", "CCC"], 0, TODAY)
    assert outcome.measure is Measure.SUSPEND


def test_a_repeat_failure_within_the_window_escalates() -> None:
    [outcome] = evaluate(K.SPOT_CHECK_FAILURE, MatchDecision.MATCH, ["QMS"], 1, TODAY)
    assert outcome.severity is Severity.CRITICAL and outcome.escalated


def test_serious_illegal_listing_recommends_withdrawal_within_5_days() -> None:
    [outcome] = evaluate(K.SERIOUS_ILLEGAL_LISTED, MatchDecision.MATCH, ["QMS"], 0, TODAY)
    assert outcome.measure is Measure.WITHDRAW and outcome.decision_due == date(2026, 11, 30)


def test_a_review_band_match_still_raises_but_a_removal_needs_a_sure_match() -> None:
    assert evaluate(K.ABNORMAL_OPERATION_LISTED, MatchDecision.REVIEW, [], 0, TODAY)
    assert not evaluate(K.SERIOUS_ILLEGAL_REMOVED, MatchDecision.REVIEW, [], 0, TODAY)
    assert not evaluate(K.SPOT_CHECK_FAILURE, MatchDecision.NONE, [], 0, TODAY)


def test_every_kind_that_matters_has_a_rule() -> None:
    for kind in K:
        assert evaluate(kind, MatchDecision.MATCH, ["QMS"], 0, TODAY), f"no rule reacts to {kind}"
