"""Timeliness for the regulator (DOMAIN.md §6.1 item 5, issue 15 §2): per statutory clock, the deadlines
that fell due in a period, how many were met and missed, and the median and longest days from the signal's
publication to the act that ended the clock (a decision; for the reply clock, the organisation's answer).

The clocks come from `rules.risk-event-raised.v2` / `…-updated.v2`, as rules last published them. A clock
voided (the match rejected, a later decision before a reply was due) is no deadline and is left out; one
still running past its due date counts as missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from statistics import median

from services.reporting.models import ClockView
from shared.contracts.rules import ClockKind, ClockState, clock_state

COLUMNS = ["clock", "legal basis", "due in period", "met", "missed", "running", "median days", "max days"]


@dataclass(frozen=True)
class ClockTimeliness:
    kind: str
    basis: str  # document and article
    due: int  # deadlines that fell due in the period (void ones left out)
    met: int
    missed: int
    running: int
    median_days: float | None  # from the signal's publication to the act that ended the clock
    max_days: int | None

    def row(self) -> list[object]:
        return [self.kind, self.basis, self.due, self.met, self.missed, self.running, self.median_days, self.max_days]


def timeliness(clocks: list[ClockView], today: date) -> list[ClockTimeliness]:
    """One line per kind of clock, every kind shown (a kind nothing fell due on shows zeros)."""
    lines = []
    for kind in ClockKind:
        mine = [c for c in clocks if c.kind == kind.value and c.state != ClockState.VOID.value]
        states = [clock_state(ClockState(c.state), c.ended_on, c.due_on, today) for c in mine]
        days = [(c.ended_on - (c.signal_published_on or c.starts_on)).days for c in mine if c.ended_on]
        basis = next((f"{c.basis_document} {c.basis_article}" for c in mine), "")
        lines.append(
            ClockTimeliness(
                kind.value,
                basis,
                len(mine),
                states.count(ClockState.MET),
                states.count(ClockState.MISSED),
                states.count(ClockState.RUNNING),
                median(days) if days else None,
                max(days) if days else None,
            )
        )
    return lines
