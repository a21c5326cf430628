"""Batch screening: a CSV of names (and codes) in, the best match per record out.

IN.csv: record_id,name,credit_code,address. REGISTRY.csv: org_id,name,credit_code,former_names,address
(former names separated by |). OUT.csv: one row per input record.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from services.rules.matcher.index import MatchThresholds, RegistryIndex, RegistryRecord

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


def _reader(path: Path, required: tuple[str, ...]) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise ScreeningInputError(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(required)}")
        yield from reader


def read_registry(path: Path) -> Iterator[RegistryRecord]:
    for row in _reader(path, ("org_id", "name")):
        former = tuple(n.strip() for n in (row.get("former_names") or "").split("|") if n.strip())
        yield RegistryRecord(
            org_id=row["org_id"], name=row["name"], credit_code=row.get("credit_code") or None,
            former_names=former, address=row.get("address") or None,
        )  # fmt: skip


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
    summary = ScreenSummary()
    rows = _reader(input_path, ("record_id", "name"))
    with output_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(OUTPUT_COLUMNS)
        for row in rows:
            writer.writerow(screen_row(index, row, summary))
    return summary


def screen_row(index: RegistryIndex, row: dict[str, str], summary: ScreenSummary) -> tuple[object, ...]:
    summary.records += 1
    name = (row.get("name") or "").strip()
    code = (row.get("credit_code") or "").strip() or None
    if not name and not code:
        summary.problems += 1
        summary.decisions["none"] += 1
        return (row.get("record_id", ""), "", 0.0, "none", "", "", "the record has neither a name nor a credit code")
    best = index.best(name, code, row.get("address") or None)
    if best is None:
        summary.decisions["none"] += 1
        return (row.get("record_id", ""), "", 0.0, "none", "", "", "no organisation qualifies")
    summary.decisions[best.decision.value] += 1
    return (row.get("record_id", ""), best.org_id, round(best.score, 4), best.decision.value, best.method,
            best.matched_name, best.explanation)  # fmt: skip
