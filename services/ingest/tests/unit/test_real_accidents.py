"""The accident/recall adapter on real published recall notices: tests/fixtures/accidents (sources in its README).

Each fixture is one notice's facts under the field names of SAMR's 缺陷消费品召回计划 form; manifest.json says
what a careful reader takes from it (the producer, product, brand/model/batch, the authority, and that it is a
recall), written from the notices, not from the parser.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.ingest.feeds import ParsedRecord, RowRejected, parse_file

CORPUS = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "accidents"
MANIFEST: list[dict[str, Any]] = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))


def fold(value: object) -> object:
    """Width forms aside (the adapters fold full-width brackets to ASCII), as in test_real_bulletins."""
    return unicodedata.normalize("NFKC", value) if isinstance(value, str) else value


def day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def parsed(entry: dict[str, Any]) -> tuple[list[ParsedRecord], list[RowRejected]]:
    items = list(parse_file(entry["kind"], CORPUS / entry["file"], feed="corpus").items())
    return [i for i in items if isinstance(i, ParsedRecord)], [i for i in items if isinstance(i, RowRejected)]


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_every_notice_read_and_none_lost(entry: dict[str, Any]) -> None:
    records, rejected = parsed(entry)
    assert (len(records) + len(rejected), len(records), len(rejected)) == (
        entry["rows"],
        entry["signals"],
        entry["rejected"],
    ), [r.reason for r in rejected]


EXPECTATIONS = [(e, x) for e in MANIFEST for x in e.get("expect", [])]


@pytest.mark.parametrize(
    ("entry", "expected"), EXPECTATIONS, ids=[f"{e['file']}:{x['row_contains']}" for e, x in EXPECTATIONS]
)
def test_each_recalls_producer_product_and_authority(entry: dict[str, Any], expected: dict[str, Any]) -> None:
    records, _ = parsed(entry)
    found = [r for r in records if expected["row_contains"] in json.dumps(r.raw, ensure_ascii=False, default=str)]
    assert len(found) == 1
    signal = found[0].signal
    assert signal.kind.value == expected["kind"]  # a recall notice is a recall, though it has no 类型 column
    assert fold(signal.subject.name) == fold(expected["name"])
    assert signal.subject.credit_code == expected["credit_code"]  # the notices print no code
    assert signal.product is not None
    assert fold(signal.product.name) == fold(expected["product"])
    assert fold(signal.product.model) == fold(expected["model"])
    assert fold(signal.product.batch) == fold(expected["batch"])  # a batch that reads like a date stays the batch
    assert fold(signal.product.brand) == fold(expected["brand"])
    assert signal.product.production_date == day(expected["production_date"])  # one day, never a range's first
    assert signal.published_on == day(expected["published_on"])
    assert fold(signal.detail.authority) == fold(expected["authority"])
    assert signal.detail.reason  # the defect, as the notice describes it
