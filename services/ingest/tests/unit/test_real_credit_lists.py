"""The credit-list adapter on real published records: tests/fixtures/credit_lists (sources in its README).

manifest.json says what a careful reader takes from each record (name, credit code or none, kind, listing
date, reason, deciding authority), written from the records, not from the parser. Every record is read
(nothing lost), and any a reader would refuse is refused with its reason.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.ingest.feeds import FileRejected, ParsedRecord, RowRejected, parse_file
from shared.contracts.ingest import CreditCodeStatus

CORPUS = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "credit_lists"
MANIFEST: list[dict[str, Any]] = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))


def fold(value: object) -> object:
    """Width forms aside (the adapters fold full-width brackets to ASCII), as in test_real_bulletins."""
    return unicodedata.normalize("NFKC", value) if isinstance(value, str) else value


def parsed(entry: dict[str, Any]) -> tuple[list[ParsedRecord], list[RowRejected]]:
    items = list(parse_file(entry["kind"], CORPUS / entry["file"], feed="corpus").items())
    return [i for i in items if isinstance(i, ParsedRecord)], [i for i in items if isinstance(i, RowRejected)]


READ = [e for e in MANIFEST if "file_rejected" not in e]
REFUSED = [e for e in MANIFEST if "file_rejected" in e]


@pytest.mark.parametrize("entry", READ, ids=[e["file"] for e in READ])
def test_every_record_read_and_none_lost(entry: dict[str, Any]) -> None:
    records, rejected = parsed(entry)
    assert (len(records) + len(rejected), len(records), len(rejected)) == (
        entry["rows"],
        entry["signals"],
        entry["rejected"],
    ), [r.reason for r in rejected]
    for reason in entry.get("rejected_reasons", []):
        assert any(reason in r.reason for r in rejected), (reason, [r.reason for r in rejected])


@pytest.mark.parametrize("entry", REFUSED, ids=[e["file"] for e in REFUSED])
def test_a_file_whose_records_name_no_enterprise_is_refused_saying_so(entry: dict[str, Any]) -> None:
    """GSXT's per-entity response carries the entity in the page's address only: nothing in the file says whose
    listing it is, so the whole file is refused with the missing fields named (and the keys it does have)."""
    with pytest.raises(FileRejected) as refused:
        parsed(entry)
    assert entry["file_rejected"] in str(refused.value)
    assert "speCause_CN" in str(refused.value)


EXPECTATIONS = [(e, x) for e in MANIFEST for x in e.get("expect", [])]


@pytest.mark.parametrize(
    ("entry", "expected"), EXPECTATIONS, ids=[f"{e['file']}:{x['row_contains']}" for e, x in EXPECTATIONS]
)
def test_each_records_name_code_kind_date_reason_and_authority(entry: dict[str, Any], expected: dict[str, Any]) -> None:
    records, _ = parsed(entry)
    found = [r for r in records if expected["row_contains"] in json.dumps(r.raw, ensure_ascii=False, default=str)]
    assert len(found) == 1, f"{expected['row_contains']!r} is in {len(found)} signals"
    signal = found[0].signal
    assert fold(signal.subject.name) == fold(expected["name"])
    assert signal.subject.credit_code == expected["credit_code"]
    assert signal.subject.credit_code_status is (
        CreditCodeStatus.VALID if expected["credit_code"] else CreditCodeStatus.ABSENT
    )
    assert signal.kind.value == expected["kind"]
    assert signal.detail.listed_on == date.fromisoformat(expected["listed_on"])
    assert signal.published_on == date.fromisoformat(expected.get("removed_on") or expected["listed_on"])
    assert fold(signal.detail.reason) == fold(expected["reason"])
    assert fold(signal.detail.authority) == fold(expected["authority"])
