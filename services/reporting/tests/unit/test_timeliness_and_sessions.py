"""Timeliness per statutory clock (a property over any mix of clocks, and deadlines counted in working days with
调休), the dashboard's clock and resolution facts, and the login cookie (signed, expiring, bound to its key)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from services.reporting import sessions
from services.reporting.models import ClockView, RiskEventView
from services.reporting.service import _clock_tallies, _resolved_on, counted_kind, local_day
from services.reporting.timeliness import COLUMNS, timeliness
from shared.auth import digest
from shared.contracts.rules import ClockKind, ClockState, MatchDecision, MatchSummary
from shared.workdays import add_working_days
from tests.support.events import risk_event_raised

KINDS = [k.value for k in ClockKind]
STATES = [s.value for s in ClockState]
TODAY = date(2026, 12, 10)


def _clock(
    kind: str,
    state: str,
    due: date,
    ended: date | None = None,
    published: date | None = None,
    starts: date = date(2026, 11, 2),
) -> ClockView:
    return ClockView(
        clock_id=uuid.uuid4(),
        risk_event_id=uuid.uuid4(),
        kind=kind,
        basis_document="认证机构管理办法",
        basis_article="第二十一条",
        starts_on=starts,
        due_on=due,
        state=state,
        ended_on=ended,
        ended_by="suspend" if ended else None,
        provisional=False,
        signal_published_on=published,
    )


@st.composite
def clocks(draw: st.DrawFn) -> ClockView:
    due = draw(st.dates(date(2026, 10, 1), date(2027, 1, 31)))
    state = draw(st.sampled_from(STATES))
    ended = draw(st.none() | st.dates(date(2026, 10, 1), date(2027, 1, 31))) if state != "running" else None
    published = draw(st.none() | st.dates(date(2026, 9, 1), date(2026, 10, 1)))
    return _clock(draw(st.sampled_from(KINDS)), state, due, ended, published, starts=date(2026, 10, 1))


@settings(max_examples=200, deadline=None)
@given(st.lists(clocks(), max_size=40), st.dates(date(2026, 10, 1), date(2027, 2, 28)))
def test_every_deadline_is_met_missed_or_running_and_a_void_one_is_no_deadline(
    found: list[ClockView], today: date
) -> None:
    lines = {line.kind: line for line in timeliness(found, today)}
    assert list(lines) == KINDS  # every kind shown, in the enum's order
    for kind, line in lines.items():
        mine = [c for c in found if c.kind == kind and c.state != "void"]
        assert line.due == len(mine) == line.met + line.missed + line.running
        assert line.running == sum(c.state == "running" and c.due_on >= today for c in mine)
        assert line.met == sum(c.state == "met" for c in mine)
        days = [(c.ended_on - (c.signal_published_on or c.starts_on)).days for c in mine if c.ended_on]
        assert line.max_days == (max(days) if days else None)
        if days:
            assert line.median_days is not None and min(days) <= line.median_days <= max(days)
        assert len(line.row()) == len(COLUMNS)


def test_a_working_day_deadline_over_golden_week_is_running_through_the_holiday_and_missed_after_it() -> None:
    # 5 working days from Monday 28 Sept 2026: 29, 30 Sept, the National Day holiday (1-7 Oct), 8, 9 Oct, and
    # Saturday 10 Oct, a weekend day moved to work (调休)
    due = add_working_days(date(2026, 9, 28), 5).due
    assert due == date(2026, 10, 10) and due.weekday() == 5
    running = _clock("suspension", "running", due, published=date(2026, 9, 28), starts=date(2026, 9, 28))
    for day, expected in ((date(2026, 10, 5), "running"), (due, "running"), (due + timedelta(days=1), "missed")):
        [line] = [x for x in timeliness([running], day) if x.kind == "suspension"]
        assert (line.running, line.missed) == ((1, 0) if expected == "running" else (0, 1)), day
    ended = _clock("suspension", "met", due, ended=due, published=date(2026, 9, 28), starts=date(2026, 9, 28))
    [line] = [x for x in timeliness([ended], due + timedelta(days=30)) if x.kind == "suspension"]
    assert (line.met, line.median_days, line.max_days) == (
        1,
        (due - date(2026, 9, 28)).days,
        (due - date(2026, 9, 28)).days,
    )


def test_the_legal_basis_comes_from_the_clocks_of_that_kind() -> None:
    lines = {line.kind: line for line in timeliness([_clock("withdrawal", "met", TODAY, TODAY)], TODAY)}
    assert lines["withdrawal"].basis == "认证机构管理办法 第二十一条" and lines["suspension"].basis == ""


# --- what a clock adds to the dashboard's daily aggregate -----------------------------------------------------------


def test_a_void_clock_adds_nothing_and_a_running_one_only_its_due_day() -> None:
    due = date(2026, 12, 8)
    assert _clock_tallies(due, "suspension", "void", date(2026, 12, 1), None, date(2026, 12, 1)) == []
    assert _clock_tallies(due, "suspension", "running", None, None, date(2026, 12, 1)) == [
        (due, "clock_due", "suspension")
    ]


@pytest.mark.parametrize("state", ["met", "missed"])
def test_an_ended_clock_adds_its_outcome_and_its_days_from_the_publication_on_its_due_day(state: str) -> None:
    due, ended = date(2026, 12, 8), date(2026, 12, 6)
    facts = _clock_tallies(due, "reply", state, ended, date(2026, 11, 30), date(2026, 12, 1))
    assert facts == [(due, "clock_due", "reply"), (due, f"clock_{state}", "reply"), (due, "clock_days", "reply:6")]
    from_start = _clock_tallies(due, "reply", state, ended, None, date(2026, 12, 1))
    assert from_start[-1] == (due, "clock_days", "reply:5")  # no publication day: counted from the clock's start


def test_an_event_self_reported_is_counted_apart_whatever_rule_raised_it() -> None:
    reported = risk_event_raised(
        "x", match=MatchSummary(score=1, decision=MatchDecision.MATCH, method="self_report", explanation="自查自纠")
    )
    assert counted_kind(reported) == "self_report"
    assert counted_kind(risk_event_raised("y")) == "spot_check_failure"


def _view(status: str, decided: datetime | None = None, closed: datetime | None = None) -> RiskEventView:
    return RiskEventView(status=status, decided_at=decided, closed_at=closed)


def test_an_event_is_resolved_on_the_local_day_it_was_decided_or_closed() -> None:
    late_utc = datetime.fromisoformat("2026-12-01T17:30:00+00:00")  # 01:30 on 2 Dec in Shanghai
    assert _resolved_on(_view("open", decided=late_utc)) is None
    assert _resolved_on(_view("in_review")) is None
    assert _resolved_on(_view("decided", decided=late_utc)) == date(2026, 12, 2)
    assert _resolved_on(_view("closed", closed=late_utc)) == date(2026, 12, 2)
    assert _resolved_on(_view("closed")) is None
    assert local_day(datetime.fromisoformat("2026-12-01T15:59:59+00:00")) == date(2026, 12, 1)
    assert local_day(datetime.fromisoformat("2026-12-01T16:00:00+00:00")) == date(2026, 12, 2)


# --- the login cookie ---------------------------------------------------------------------------------------------

KEY = b"k" * 32
NOW = 1_800_000_000.0


def test_the_cookie_carries_the_tokens_digest_never_the_token() -> None:
    value = sessions.make(KEY, "cw_secret_token_value", now=NOW)
    assert "cw_secret_token_value" not in value
    payload = value.split(".")[0]
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert body == {"d": digest("cw_secret_token_value"), "e": int(NOW) + sessions.SESSION_HOURS * 3600}
    assert sessions.opened(KEY, value, now=NOW + 60) == digest("cw_secret_token_value")


def test_the_cookie_expires_after_its_hours() -> None:
    value = sessions.make(KEY, "t", now=NOW)
    assert sessions.opened(KEY, value, now=NOW + sessions.SESSION_HOURS * 3600 - 1) is not None
    assert sessions.opened(KEY, value, now=NOW + sessions.SESSION_HOURS * 3600) is None


def test_a_cookie_signed_with_another_key_or_altered_is_refused() -> None:
    value = sessions.make(KEY, "t", now=NOW)
    payload, signature = value.split(".")
    assert sessions.opened(b"x" * 32, value, now=NOW) is None
    longer = base64.urlsafe_b64encode(json.dumps({"d": digest("t"), "e": int(NOW) + 10**9}).encode()).rstrip(b"=")
    assert sessions.opened(KEY, f"{longer.decode()}.{signature}", now=NOW) is None  # a longer life, same signature
    for forged in ("", ".", payload, f"{payload}.", f".{signature}", f"{payload}.{signature[:-1]}A"):
        assert sessions.opened(KEY, forged, now=NOW) is None, forged


def test_a_well_signed_cookie_with_a_bad_body_is_refused() -> None:
    for body in (b"not json", b'{"d": "x"}', b'{"e": 1}', b'{"d": "x", "e": "soon"}', b"[1, 2]"):
        payload = base64.urlsafe_b64encode(body).rstrip(b"=").decode()
        assert sessions.opened(KEY, f"{payload}.{sessions._sign(KEY, payload)}", now=NOW) is None, body


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_no_made_up_cookie_opens_a_session(value: str) -> None:
    assert sessions.opened(KEY, value, now=NOW) is None


def test_the_logout_token_is_bound_to_its_session_and_key() -> None:
    one, two = sessions.make(KEY, "a", now=NOW), sessions.make(KEY, "b", now=NOW)
    assert sessions.logout_token(KEY, one) == sessions.logout_token(KEY, one)
    assert sessions.logout_token(KEY, one) != sessions.logout_token(KEY, two)
    assert sessions.logout_token(KEY, one) != sessions.logout_token(b"x" * 32, one)


class _Settings:
    def __init__(self, key: str | None) -> None:
        self.session_key = SecretStr(key) if key is not None else None


def test_the_signing_key_is_the_settings_else_one_random_key_per_process() -> None:
    assert (
        sessions.key(_Settings("configured")) == sessions.key(_Settings("configured")) != sessions.key(_Settings("x"))
    )
    assert sessions.key(_Settings(None)) == sessions.key(_Settings("")) == sessions.key(object())
    assert len(sessions.key(_Settings(None))) == 32 and sessions.key(_Settings(None)) != sessions.key(_Settings("c"))
