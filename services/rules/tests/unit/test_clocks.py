"""The statutory clocks: which a risk event starts, their due dates, and how decisions end them (no I/O)."""

import uuid
from datetime import date

from services.rules.review import clocks
from services.rules.review.schemas import ClockRead
from services.rules.ruleset.clocks import CLOCKS, Context, add_months, deadline
from services.rules.ruleset.service import evaluate
from services.rules.tables import RiskEvent
from shared import workdays
from shared.contracts.ingest import CheckLevel, SignalReceivedV2, Subject
from shared.contracts.ingest import SignalKind as K
from shared.contracts.rules import ClockKind, ClockState, MatchDecision, MatchSummary, Measure

TODAY = date(2026, 11, 25)  # a Wednesday
NOTICE = date(2026, 11, 20)
NATIONAL = Context(published_on=NOTICE, level=CheckLevel.NATIONAL)


def test_every_clock_names_its_document_and_article() -> None:
    for rule in CLOCKS.values():
        assert rule.basis.document and rule.basis.article and rule.basis.requirement
    assert (CLOCKS[ClockKind.SUSPENSION].basis.document, CLOCKS[ClockKind.SUSPENSION].basis.article) == (
        "认证机构管理办法", "Art. 21",
    )  # fmt: skip
    assert CLOCKS[ClockKind.SHORT_NOTICE_AUDIT].basis.article == "§5.9.3"
    assert CLOCKS[ClockKind.WITHDRAWAL].basis.article == "§7.3.1"


def test_a_national_spot_check_starts_the_short_notice_audit_30_days_from_the_notice() -> None:
    [outcome] = evaluate(K.SPOT_CHECK_FAILURE, MatchDecision.MATCH, ["QMS"], 0, TODAY, NATIONAL)
    [audit] = outcome.clocks
    assert (audit.kind, audit.starts_on, audit.due_on) == (ClockKind.SHORT_NOTICE_AUDIT, NOTICE, date(2026, 12, 20))
    assert outcome.decision_due == date(2026, 12, 20)  # the clock's, not the rule's 30 days from today


def test_a_provincial_check_or_a_ccc_only_holder_starts_no_audit_clock() -> None:
    provincial = Context(published_on=NOTICE, level=CheckLevel.PROVINCIAL)
    [outcome] = evaluate(K.SPOT_CHECK_FAILURE, MatchDecision.MATCH, ["QMS"], 0, TODAY, provincial)
    assert outcome.clocks == () and outcome.decision_due == date(2026, 12, 25)
    [ccc] = evaluate(K.SPOT_CHECK_FAILURE, MatchDecision.MATCH, ["CCC"], 0, TODAY, NATIONAL)
    assert ccc.clocks == () and ccc.measure is Measure.SUSPEND  # suspension waits for a confirmation


def test_a_bulletin_without_a_date_counts_from_the_day_it_was_raised_and_says_so() -> None:
    undated = Context(level=CheckLevel.NATIONAL)
    [outcome] = evaluate(K.FOOD_SPOT_CHECK_FAILURE, MatchDecision.REVIEW, ["HACCP"], 0, TODAY, undated)
    [audit] = outcome.clocks
    assert audit.starts_on == TODAY and "gives no date" in (audit.note or "")


def test_a_listing_matched_by_its_credit_code_starts_withdrawal_within_5_working_days() -> None:
    sure = Context(confirmed=True)
    [outcome] = evaluate(K.SERIOUS_ILLEGAL_LISTED, MatchDecision.MATCH, ["QMS"], 0, TODAY, sure)
    [withdrawal] = outcome.clocks
    assert (withdrawal.kind, withdrawal.due_on) == (ClockKind.WITHDRAWAL, date(2026, 12, 2))  # Wed → next Wed
    [unsure] = evaluate(K.SERIOUS_ILLEGAL_LISTED, MatchDecision.MATCH, ["QMS"], 0, TODAY, Context())
    assert unsure.clocks == () and unsure.decision_due == date(2026, 11, 30)  # waits for a reviewer


def test_an_accident_matched_by_code_starts_the_art_21_suspension_clock() -> None:
    [outcome] = evaluate(K.QUALITY_ACCIDENT, MatchDecision.MATCH, ["QMS"], 0, TODAY, Context(confirmed=True))
    assert [(c.kind, c.due_on) for c in outcome.clocks] == [(ClockKind.SUSPENSION, date(2026, 11, 30))]


def test_only_an_exact_code_or_a_remembered_verdict_confirms_at_raise() -> None:
    signal = SignalReceivedV2(
        signal_id=uuid.uuid4(), feed="f", kind=K.SERIOUS_ILLEGAL_LISTED, subject=Subject(name="x"),
        published_on=NOTICE,
    )  # fmt: skip
    for method, sure in (("credit_code", True), ("verdict", True), ("name:current", False)):
        match = MatchSummary(score=1.0, decision=MatchDecision.MATCH, method=method, explanation="")
        assert Context.of(signal, match) == Context(NOTICE, None, sure)


def test_six_months_ends_on_the_same_day_or_the_months_last() -> None:
    assert add_months(date(2026, 11, 25), 6) == date(2027, 5, 25)
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)


def test_a_withdrawal_clock_at_the_end_of_the_holiday_table_is_flagged() -> None:
    found = deadline(ClockKind.WITHDRAWAL, date(2026, 12, 28))
    assert (found.due_on, found.provisional) == (date(2027, 1, 5), True) and "2027" in (found.note or "")


def _event(measure: Measure = Measure.SUSPEND) -> RiskEvent:
    event = RiskEvent(id=uuid.uuid4(), recommended_measure=measure.value, decision=None, decision_due=TODAY)
    event.clocks = []
    return event


def _states(event: RiskEvent) -> list[tuple[str, str, str | None]]:
    return [(c.kind, c.state, c.ended_by) for c in event.clocks]


def test_a_confirmation_starts_art_21_and_a_suspension_in_time_meets_it_and_starts_the_6_month_limit() -> None:
    event = _event()
    assert clocks.confirmed(event, TODAY) and not clocks.confirmed(event, TODAY)  # once
    assert event.decision_due == date(2026, 11, 30)
    clocks.decided(event, Measure.SUSPEND, date(2026, 11, 30))
    assert _states(event) == [("suspension", "met", "suspend"), ("suspension_limit", "running", None)]
    assert event.clocks[1].due_on == date(2027, 5, 30) and event.decision_due == date(2027, 5, 30)
    clocks.decided(event, Measure.RESTORE, date(2027, 1, 4))
    assert _states(event)[1] == ("suspension_limit", "met", "restore")


def test_a_late_suspension_misses_art_21_and_a_corrective_action_does_not_end_it() -> None:
    event = _event()
    clocks.confirmed(event, TODAY)
    clocks.decided(event, Measure.CORRECTIVE_ACTION, TODAY, reply_due=date(2026, 12, 20))
    assert _states(event) == [("suspension", "running", None), ("reply", "running", None)]
    assert event.decision_due == date(2026, 11, 30)  # the most urgent running clock
    clocks.decided(event, Measure.SUSPEND, date(2026, 12, 1))
    assert _states(event)[:2] == [("suspension", "missed", "suspend"), ("reply", "void", "suspend")]


def test_the_organisations_reply_meets_its_clock_and_a_decision_after_the_day_without_one_misses_it() -> None:
    replied, silent = _event(Measure.REQUEST_EXPLANATION), _event(Measure.REQUEST_EXPLANATION)
    for event in (replied, silent):
        clocks.decided(event, Measure.REQUEST_EXPLANATION, TODAY, reply_due=date(2026, 12, 9))
    assert clocks.replied(replied, date(2026, 12, 9)) and not clocks.replied(replied, date(2026, 12, 9))
    clocks.decided(silent, Measure.SUSPEND, date(2026, 12, 10))
    assert _states(replied) == [("reply", "met", "reply")]
    assert _states(silent)[0] == ("reply", "missed", "suspend")


def test_a_rejected_match_voids_what_runs_and_a_reopened_suspension_starts_withdrawal() -> None:
    rejected = _event(Measure.WITHDRAW)
    clocks.confirmed(rejected, TODAY)
    clocks.made_moot(rejected, TODAY, "match_rejected")
    assert _states(rejected) == [("withdrawal", "void", "match_rejected")]
    suspended = _event()
    clocks.decided(suspended, Measure.SUSPEND, TODAY)
    clocks.reopened(suspended, date(2026, 12, 24))  # Thu: Fri 25, Mon 28 … Thu 31
    assert [c.kind for c in suspended.clocks] == ["suspension_limit", "withdrawal"]
    assert suspended.decision_due == date(2026, 12, 31) and not suspended.clocks[1].provisional


def test_the_api_reads_a_running_clock_past_its_due_date_as_missed() -> None:
    event = _event()
    clocks.start(event, deadline(ClockKind.SUSPENSION, date(2020, 1, 1)))
    clocks.start(event, deadline(ClockKind.SUSPENSION_LIMIT, workdays.today()))
    late, running = (ClockRead.model_validate(c) for c in event.clocks)
    assert (late.state, running.state) == (ClockState.MISSED, ClockState.RUNNING)
    assert late.basis.document == "认证机构管理办法" and late.unit == "calendar_days"
