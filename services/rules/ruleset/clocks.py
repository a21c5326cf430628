"""The statutory clocks (issue 15 §2; DOMAIN.md §0.4, §3.2, §3.4): what each asks, on what legal basis,
how long it runs, and what ends it. Pure: no I/O.

A clock runs from a day (the national notice, the confirmation of a non-conformity, a decision) for a
period in calendar days, working days on the PRC calendar with 调休 (`shared.workdays`), or months; it is
met when an act that answers it is recorded by its due date, missed when that comes later or not at all.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from shared.contracts.ingest import CheckLevel, Signal, SignalKind
from shared.contracts.rules import ClockKind, ClockUnit, LegalBasis, MatchDecision, MatchSummary, Measure
from shared.workdays import add_working_days

REPLIED = "reply"  # the act that ends a reply clock: the organisation answered


@dataclass(frozen=True)
class ClockRule:
    kind: ClockKind
    basis: LegalBasis
    length: int | None
    unit: ClockUnit
    ended_by: frozenset[str]  # the measures (or acts) that answer it


def _basis(document: str, article: str, requirement: str) -> LegalBasis:
    return LegalBasis(document=document, article=article, requirement=requirement)


D = Measure
# A table: one ClockRule per clock, its length beside its unit (fmt: skip keeps the rows).
CLOCKS: dict[ClockKind, ClockRule] = {
    rule.kind: rule
    for rule in (
        ClockRule(
            ClockKind.SHORT_NOTICE_AUDIT,
            _basis("CNCA-QMS-01:2025 质量管理体系认证规则", "§5.9.3",
                   "a product in scope failed a national spot check: a short-notice audit within 30 days of the "
                   "SAMR notice"),
            30, ClockUnit.CALENDAR_DAYS,
            frozenset({D.SPECIAL_AUDIT, D.SUSPEND, D.WITHDRAW, D.NO_ACTION}),
        ),
        ClockRule(
            ClockKind.SUSPENSION,
            _basis("认证机构管理办法", "Art. 21",
                   "suspend within 5 days of confirming that the client no longer meets the certification "
                   "requirements"),
            5, ClockUnit.CALENDAR_DAYS,
            frozenset({D.SUSPEND, D.WITHDRAW, D.NO_ACTION}),
        ),
        ClockRule(
            ClockKind.WITHDRAWAL,
            _basis("质量管理体系认证规则 (CNCA, 2016)", "§7.3.1",
                   "withdraw within 5 working days of obtaining and verifying the information (serious-illegal "
                   "listing, §7.3.1(2); a suspension ended unresolved, §7.3.1(7))"),
            5, ClockUnit.WORKING_DAYS,
            frozenset({D.WITHDRAW, D.RESTORE, D.NO_ACTION}),
        ),
        ClockRule(
            ClockKind.SUSPENSION_LIMIT,
            _basis("认证机构管理办法", "Art. 21",
                   "withdraw if the problem persists when the suspension ends; a management-system suspension "
                   "lasts at most 6 months (bodies' practice under the 2016 QMS rule, DOMAIN.md §3.4)"),
            6, ClockUnit.MONTHS,
            frozenset({D.RESTORE, D.WITHDRAW}),
        ),
        ClockRule(
            ClockKind.REPLY,
            _basis("认证认可条例", "Art. 26",
                   "the organisation answers (explanation, corrective action) by the day the decision-maker set: "
                   "the body tracks its certified organisations and acts on what it finds"),
            None, ClockUnit.SET_BY_DECISION,
            frozenset({REPLIED}),
        ),
    )
}  # fmt: skip
SPOT_CHECKS = frozenset({SignalKind.SPOT_CHECK_FAILURE, SignalKind.FOOD_SPOT_CHECK_FAILURE})
CONFIRMED_BY = frozenset({"credit_code", "verdict"})  # an exact validated code, or a reviewer's remembered verdict
STARTED_BY_CONFIRMATION = {Measure.SUSPEND: ClockKind.SUSPENSION, Measure.WITHDRAW: ClockKind.WITHDRAWAL}


@dataclass(frozen=True)
class Deadline:
    """A clock's period, computed: from `starts_on` to `due_on`, flagged when counted past the holiday table."""

    kind: ClockKind
    starts_on: date
    due_on: date
    provisional: bool = False
    note: str | None = None

    @property
    def rule(self) -> ClockRule:
        return CLOCKS[self.kind]


@dataclass(frozen=True)
class Context:
    """What the clocks started at raise need to know of the signal and the match."""

    published_on: date | None = None  # the notice's date
    level: CheckLevel | None = None  # who organised the spot check
    confirmed: bool = False  # the match needs no human confirmation (exact code, or a remembered verdict)

    @classmethod
    def of(cls, signal: Signal, match: MatchSummary) -> Context:
        sure = match.decision is MatchDecision.MATCH and match.method in CONFIRMED_BY
        return cls(signal.published_on, signal.detail.level, sure)


def deadline(kind: ClockKind, starts_on: date, due_on: date | None = None, note: str | None = None) -> Deadline:
    """The clock of this kind from `starts_on`; a reply clock's `due_on` is the one the decision set."""
    rule = CLOCKS[kind]
    if rule.unit is ClockUnit.SET_BY_DECISION:
        if due_on is None:
            raise ValueError(f"a {kind} clock needs the due date the decision set")
        return Deadline(kind, starts_on, due_on, note=note)
    assert rule.length is not None
    if rule.unit is ClockUnit.WORKING_DAYS:
        counted = add_working_days(starts_on, rule.length)
        notes = "; ".join(n for n in (note, counted.note) if n) or None
        return Deadline(kind, starts_on, counted.due, counted.provisional, notes)
    if rule.unit is ClockUnit.MONTHS:
        return Deadline(kind, starts_on, add_months(starts_on, rule.length), note=note)
    return Deadline(kind, starts_on, starts_on + timedelta(days=rule.length), note=note)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or that month's last day (31 Aug + 6 months = 28/29 Feb)."""
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def on_raise(
    kind: SignalKind, measure: Measure, certificate_types: list[str], context: Context, today: date
) -> list[Deadline]:
    """The clocks a new risk event starts.

    - A national spot-check failure, for an organisation holding a certificate other than CCC (a management
      system): the short-notice audit, 30 days from the notice (from today when the bulletin gives no date).
    - A match that needs no confirmation (an exact credit code, a remembered verdict) on an event that
      recommends suspension or withdrawal: the non-conformity stands confirmed today, so the Art. 21 or
      §7.3.1 clock starts now; any other match starts it when a reviewer confirms it (`on_confirmation`).
    """
    found = []
    if kind in SPOT_CHECKS and context.level is CheckLevel.NATIONAL and any(t != "CCC" for t in certificate_types):
        note = None if context.published_on else "the bulletin gives no date: counted from the day it was raised"
        found.append(deadline(ClockKind.SHORT_NOTICE_AUDIT, context.published_on or today, note=note))
    if context.confirmed and measure in STARTED_BY_CONFIRMATION:
        found.append(deadline(STARTED_BY_CONFIRMATION[measure], today))
    return found


def on_confirmation(measure: Measure, today: date) -> Deadline | None:
    """A reviewer confirmed the match: the clock of the measure the event recommends, from today."""
    kind = STARTED_BY_CONFIRMATION.get(measure)
    return deadline(kind, today) if kind else None
