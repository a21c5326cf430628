"""Batch screening: a CSV of names (and codes) in, the best match per record out.

IN.csv: record_id,name,credit_code,address. REGISTRY.csv: org_id,name,credit_code,former_names,address
(former names separated by |). OUT.csv: one row per input record.

A name that names several parties by role (`委托方：X；受委托方：Y`, `生产商：X；经销商：Y`, `进口商：X（原产国：意大利）`)
is taken apart and each party matched (`RegistryIndex.best` → `match_parties`, the address cell split the
same way): the row is the best party's, and its explanation opens with that party's role.
"""

from __future__ import annotations

import csv
import operator
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cython

from services.rules.matcher.index import (
    MatchThresholds,
    RegistryIndex,
    RegistryRecord,
    explain,
    paused_cycle_collector,
)
from shared.contracts.rules import MatchDecision

INPUT_COLUMNS = ("record_id", "name", "credit_code", "address")
REGISTRY_COLUMNS = ("org_id", "name", "credit_code", "former_names", "address")
OUTPUT_COLUMNS = ("record_id", "org_id", "score", "decision", "method", "matched_name", "explanation")


class ScreeningInputError(ValueError):
    """A file the screening cannot read: the message names the file and what is missing."""


@dataclass
class ScreenSummary:
    records: int = 0
    decisions: dict[str, int] = field(default_factory=lambda: {"match": 0, "review": 0, "none": 0})
    problems: int = 0


def _reader(path: Path, required: tuple[str, ...], wanted: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """The `wanted` columns of every row, in that order ("" where a column is absent or a row is short)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = csv.reader(handle)
        header = [h.strip() for h in next(rows, [])]
        missing = [c for c in required if c not in header]
        if missing:
            raise ScreeningInputError(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(required)}")
        at = [header.index(c) if c in header else None for c in wanted]
        width = len(header)
        if all(i is not None for i in at):
            pick = operator.itemgetter(*at)  # the common case: one C call per row
            for row in rows:
                if len(row) >= width:
                    yield pick(row)
                elif row:
                    yield tuple(row[i] if i is not None and i < len(row) else "" for i in at)
        else:
            for row in rows:
                if row:
                    yield tuple(row[i] if i is not None and i < len(row) else "" for i in at)


def read_registry(path: Path) -> Iterator[RegistryRecord]:
    for org_id, name, code, former_names, address in _reader(path, ("org_id", "name"), REGISTRY_COLUMNS):
        former = tuple(n.strip() for n in former_names.split("|") if n.strip()) if former_names else ()
        yield RegistryRecord(org_id, name, code or None, former, address or None)


def screen_files(
    input_path: Path,
    output_path: Path,
    registry_path: Path | None = None,
    index: RegistryIndex | None = None,
    thresholds: MatchThresholds | None = None,
) -> ScreenSummary:
    """Screen every input record against the registry file (or a live index); stream in and out."""
    if index is None:
        if registry_path is None:
            raise ScreeningInputError("give a registry file or a live registry index")
        index = RegistryIndex.build(read_registry(registry_path), thresholds)
    rows = _reader(input_path, ("record_id", "name"), INPUT_COLUMNS)
    counts = _Counts()
    with output_path.open("w", encoding="utf-8", newline="") as handle, paused_cycle_collector():
        writer = csv.writer(handle)
        writer.writerow(OUTPUT_COLUMNS)
        writer.writerows(screen_row(index, row, counts) for row in rows)
    return counts.summary()


@cython.final
@cython.cclass
class _Counts:
    """What a screening run decided, counted as it goes (C integers when compiled)."""

    match = cython.declare(cython.Py_ssize_t)
    review = cython.declare(cython.Py_ssize_t)
    none = cython.declare(cython.Py_ssize_t)
    problems = cython.declare(cython.Py_ssize_t)

    def __init__(self) -> None:
        self.match = self.review = self.none = self.problems = 0

    def summary(self) -> ScreenSummary:
        decisions = {"match": self.match, "review": self.review, "none": self.none}
        return ScreenSummary(sum(decisions.values()), decisions, self.problems)


@cython.ccall
def screen_row(
    index: RegistryIndex, row: tuple[str, ...], counts: _Counts
) -> tuple[str, str, float, str, str, str, str]:
    """One output row for one (record_id, name, credit_code, address) input row."""
    record_id, name, code, address = row
    name, code = name.strip(), code.strip()
    if not name and not code:
        counts.problems += 1
        counts.none += 1
        return (record_id, "", 0.0, "none", "", "", "the record has neither a name nor a credit code")
    best = index.best(name, code or None, address or None)
    if best is None:
        counts.none += 1
        return (record_id, "", 0.0, "none", "", "", "no organisation qualifies")
    org_id, score, decision, method, matched_name, evidence = best
    if decision is MatchDecision.MATCH:  # a StrEnum: written as its value
        counts.match += 1
    elif decision is MatchDecision.REVIEW:
        counts.review += 1
    else:
        counts.none += 1
    return (record_id, org_id, round(score, 4), decision, method, matched_name, explain(evidence))
