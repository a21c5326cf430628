"""What each decision needs and which certificates it changes (services/rules/review/decisions.py), checked
before anything is written: each refusal is its own error (422 naming the field, or 409 naming the
certificates), and the corrective action's state read from the audit trail. No I/O: unsaved rows."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.rules.review import clocks
from services.rules.review.decisions import (
    ACCEPTED,
    CERTIFICATE_EFFECT,
    DECISIONS,
    RESPONSE_ACTIONS,
    Decision,
    _certificates_changed,
    _check,
    _within_the_suspension_limit,
    corrective_action_state,
)
from services.rules.ruleset.clocks import add_months, deadline
from services.rules.tables import AuditEntry, Certificate, RiskEvent
from shared.contracts.notify import ResponseKind
from shared.contracts.rules import CertificateStatus, ClockKind, Measure
from shared.errors import Conflict, InvalidInput

TODAY = date(2026, 11, 25)


def decision(measure: Measure, **values: object) -> Decision:
    return Decision(measure=measure, actor="dm-wang", reason="抽查不合格", **values)  # type: ignore[arg-type]


def refused(made: Decision) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        _check(made, TODAY)
    return caught.value


@pytest.mark.parametrize("measure", sorted(DECISIONS - {Measure.CORRECTIVE_ACTION, Measure.SUSPEND}))
def test_a_measure_that_needs_no_date_is_accepted_with_none(measure: Measure) -> None:
    _check(decision(measure), TODAY)


def test_close_is_no_decision() -> None:
    error = refused(decision(Measure.CLOSE))
    assert error.detail == {"field": "measure"} and "close the event instead" in error.message


@pytest.mark.parametrize(
    ("made", "field", "says"),
    [
        (decision(Measure.CORRECTIVE_ACTION), "corrective_action_due", "needs corrective_action_due"),
        (decision(Measure.CORRECTIVE_ACTION, corrective_action_due=TODAY), "corrective_action_due", "after today"),
        (
            decision(Measure.SPECIAL_AUDIT, corrective_action_due=TODAY + timedelta(30)),
            "corrective_action_due",
            "with corrective_action only",
        ),
        (decision(Measure.SUSPEND), "suspended_until", "needs suspended_until"),
        (decision(Measure.SUSPEND, suspended_until=TODAY), "suspended_until", "after today"),
        (
            decision(Measure.SUSPEND, suspended_until=add_months(TODAY, 6) + timedelta(1)),
            "suspended_until",
            "at most 6 months",
        ),
        (decision(Measure.WITHDRAW, suspended_until=TODAY + timedelta(30)), "suspended_until", "with suspend only"),
        (decision(Measure.NO_ACTION, certificates=("Q-7",)), "certificates", "changes no certificate"),
        (
            decision(
                Measure.CORRECTIVE_ACTION, corrective_action_due=TODAY + timedelta(30), reply_due=TODAY + timedelta(9)
            ),
            "reply_due",
            "goes with request_explanation",
        ),
        (decision(Measure.REQUEST_EXPLANATION, reply_due=TODAY), "reply_due", "after today"),
    ],
)
def test_each_missing_or_misplaced_value_is_a_422_naming_its_field(made: Decision, field: str, says: str) -> None:
    error = refused(made)
    assert error.status_code == 422 and error.detail == {"field": field} and says in error.message


def test_what_each_measure_accepts() -> None:
    _check(decision(Measure.CORRECTIVE_ACTION, corrective_action_due=TODAY + timedelta(1)), TODAY)
    _check(decision(Measure.SUSPEND, suspended_until=add_months(TODAY, 6), certificates=("Q-7",)), TODAY)
    _check(decision(Measure.REQUEST_EXPLANATION, reply_due=TODAY + timedelta(10)), TODAY)
    _check(decision(Measure.RESTORE, certificates=("Q-7",)), TODAY)


@given(days=st.integers(min_value=-400, max_value=400))
def test_a_suspension_is_accepted_exactly_from_tomorrow_to_six_months_on(days: int) -> None:
    until = TODAY + timedelta(days)
    made = decision(Measure.SUSPEND, suspended_until=until)
    if TODAY < until <= add_months(TODAY, 6):
        _check(made, TODAY)
    else:
        assert refused(made).detail == {"field": "suspended_until"}


def certificate(number: str, status: CertificateStatus, type_: str = "QMS") -> Certificate:
    return Certificate(id=uuid.uuid4(), number=number, type=type_, status=status.value)


HELD = [
    certificate("C-1", CertificateStatus.VALID, "CCC"),
    certificate("Q-7", CertificateStatus.VALID),
    certificate("Q-8", CertificateStatus.SUSPENDED),
    certificate("Q-9", CertificateStatus.WITHDRAWN),
    certificate("Q-0", CertificateStatus.EXPIRED),
]


@pytest.mark.parametrize(
    ("measure", "numbers"),
    [(Measure.SUSPEND, ["C-1", "Q-7"]), (Measure.WITHDRAW, ["C-1", "Q-7", "Q-8"]), (Measure.RESTORE, ["Q-8"])],
)
def test_naming_no_certificate_applies_the_measure_to_every_one_in_a_status_it_applies_to(
    measure: Measure, numbers: list[str]
) -> None:
    changed = _certificates_changed(HELD, decision(measure))
    assert [c.number for c, _ in changed] == numbers
    assert all(old in CERTIFICATE_EFFECT[measure][1] and CertificateStatus(c.status) is old for c, old in changed)


def test_named_certificates_are_the_only_ones_changed() -> None:
    [(changed, old)] = _certificates_changed(HELD, decision(Measure.SUSPEND, certificates=("Q-7",)))
    assert (changed.number, old) == ("Q-7", CertificateStatus.VALID)


def test_a_number_the_organisation_does_not_hold_is_a_422_naming_it() -> None:
    with pytest.raises(InvalidInput, match="not certificates of this organisation: X-1, X-2") as caught:
        _certificates_changed(HELD, decision(Measure.SUSPEND, certificates=("Q-7", "X-1", "X-2")))
    assert caught.value.detail == {"field": "certificates"}


def test_a_named_certificate_in_the_wrong_status_is_a_409_naming_each() -> None:
    with pytest.raises(Conflict, match="cannot suspend: Q-8 is suspended; Q-9 is withdrawn"):
        _certificates_changed(HELD, decision(Measure.SUSPEND, certificates=("Q-7", "Q-8", "Q-9")))
    with pytest.raises(Conflict, match="cannot restore: Q-7 is valid"):
        _certificates_changed(HELD, decision(Measure.RESTORE, certificates=("Q-7",)))


def test_nothing_to_apply_the_measure_to_is_a_409() -> None:
    with pytest.raises(Conflict, match="no certificate of this organisation is in a status it applies to"):
        _certificates_changed([certificate("Q-9", CertificateStatus.WITHDRAWN)], decision(Measure.WITHDRAW))
    with pytest.raises(Conflict):
        _certificates_changed([], decision(Measure.SUSPEND))


def test_the_transitions_a_decision_may_make() -> None:
    """Suspend from valid; withdraw from valid or suspended; restore from suspended; nothing leaves withdrawn."""
    for measure, (new, allowed) in CERTIFICATE_EFFECT.items():
        assert new not in allowed, measure
        assert CertificateStatus.WITHDRAWN not in allowed and CertificateStatus.EXPIRED not in allowed
    assert set(CERTIFICATE_EFFECT) == {Measure.SUSPEND, Measure.WITHDRAW, Measure.RESTORE}


def trail(*actions: str) -> list[AuditEntry]:
    return [AuditEntry(risk_event_id=uuid.UUID(int=1), actor="x", action=a, detail={}) for a in actions]


DONE = RESPONSE_ACTIONS[ResponseKind.CORRECTIVE_ACTION_DONE]


@pytest.mark.parametrize(
    ("actions", "state"),
    [
        ((), None),
        (("decided", "organisation_replied"), None),
        (("decided", DONE), "awaiting_acceptance"),
        (("decided", DONE, "commented"), "awaiting_acceptance"),
        (("decided", DONE, ACCEPTED), "accepted"),
        (("decided", DONE, ACCEPTED, DONE), "awaiting_acceptance"),  # done again after acceptance: waits again
    ],
)
def test_the_corrective_action_state_is_the_last_word_on_it(actions: tuple[str, ...], state: str | None) -> None:
    assert corrective_action_state(trail(*actions)) == state


def test_every_response_kind_has_its_audit_action() -> None:
    assert set(RESPONSE_ACTIONS) == set(ResponseKind)
    assert all(action.startswith("organisation_") and len(action) <= 50 for action in RESPONSE_ACTIONS.values())


def suspended_event(began: date) -> RiskEvent:
    event = RiskEvent(id=uuid.uuid4(), clocks=[])
    clocks.start(event, deadline(ClockKind.SUSPENSION_LIMIT, began))
    return event


def test_a_suspension_decided_again_may_not_run_past_six_months_from_the_first() -> None:
    began = TODAY - timedelta(days=60)
    event = suspended_event(began)
    limit = add_months(began, 6)
    _within_the_suspension_limit(event, decision(Measure.SUSPEND, suspended_until=limit))
    with pytest.raises(InvalidInput, match=f"the suspension began on {began}: it may last until {limit} at most"):
        _within_the_suspension_limit(event, decision(Measure.SUSPEND, suspended_until=limit + timedelta(1)))
    _within_the_suspension_limit(event, decision(Measure.WITHDRAW))  # only a suspension is limited


def test_an_event_not_suspended_has_no_limit() -> None:
    _within_the_suspension_limit(
        RiskEvent(id=uuid.uuid4(), clocks=[]), decision(Measure.SUSPEND, suspended_until=add_months(TODAY, 6))
    )
