"""The feed adapters on real published layouts: tests/fixtures/bulletins (sources in its README).

Each fixture reproduces a regulator's published table (title rows, header as printed, quirks as they
occur); manifest.json says what a careful reader takes from it: rows, signals, passing rows, rejects,
the bulletin's number, date and level, and for a few rows the parties, failed items and dates. The
expectations were written from the data, not from the parser.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.ingest.feeds import ParsedRecord, RowRejected, parse_file
from services.ingest.feeds.base import PassingRow

CORPUS = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "bulletins"
MANIFEST: list[dict[str, Any]] = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))


def fold(value: object) -> object:
    """Width and bracket forms aside (the adapters fold full-width ASCII), so 以Pb计 in either form agree."""
    return unicodedata.normalize("NFKC", value).replace(" ", "") if isinstance(value, str) else value


def parsed(entry: dict[str, Any]) -> tuple[list[ParsedRecord], list[RowRejected], list[PassingRow]]:
    items = list(parse_file(entry["kind"], CORPUS / entry["file"], feed="corpus", publisher=entry["regulator"]).items())
    return (
        [i for i in items if isinstance(i, ParsedRecord)],
        [i for i in items if isinstance(i, RowRejected)],
        [i for i in items if isinstance(i, PassingRow)],
    )


def the_row(records: list[ParsedRecord], needle: str) -> ParsedRecord | None:
    found = [r for r in records if needle in json.dumps(r.raw, ensure_ascii=False, default=str).replace("\\n", "\n")]
    assert len(found) <= 1, f"{needle!r} is in {len(found)} rows"
    return found[0] if found else None


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_rows_signals_passing_and_rejected_as_published(entry: dict[str, Any]) -> None:
    records, rejected, passing = parsed(entry)
    assert (len(records) + len(rejected) + len(passing), len(records), len(passing), len(rejected)) == (
        entry["rows"],
        entry["signals"],
        entry["skipped_passing"],
        entry["rejected"],
    ), [r.reason for r in rejected]


def printed(entry: dict[str, Any]) -> str:
    """Everything the file prints, as text: what the adapter can know (the page around it is not in it)."""
    path = CORPUS / entry["file"]
    if path.suffix == ".xlsx":
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True)
        return " ".join(str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row)
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            decoded: str = raw.decode(encoding)
            return decoded
        except UnicodeDecodeError:
            continue
    raise AssertionError(f"{path} is neither UTF-8 nor GB18030")


def date_printed(value: date, content: str) -> bool:
    forms = {
        f"{value.year}{sep}{m}{sep}{d}"
        for sep in "-/."
        for m in (value.month, f"{value.month:02}")
        for d in (value.day, f"{value.day:02}")
    }
    forms.add(f"{value.year}年{value.month}月{value.day}日")
    return any(form in content for form in forms)


@pytest.mark.parametrize("entry", [e for e in MANIFEST if e["signals"]], ids=lambda e: e["file"])
def test_bulletin_number_date_and_level(entry: dict[str, Any]) -> None:
    """The level always (from the columns, the titles or the feed's publisher); the bulletin's number and
    date wherever the file prints them (some reprints carry them only on the page around the table)."""
    records, _, _ = parsed(entry)
    content = printed(entry)
    number = entry.get("bulletin_no")
    published = date.fromisoformat(entry["published_on"]) if entry.get("published_on") else None
    for record in records:
        signal = record.signal
        if entry["kind"] in ("spot_check", "food_spot_check"):
            assert signal.detail.level is not None and signal.detail.level.value == entry["level"]
            if number and (number in content or number.split("年")[-1] in content):
                assert fold(signal.detail.bulletin_no) == fold(number)
        if published and date_printed(published, content):
            assert signal.published_on == published


EXPECTATIONS = [(e, x) for e in MANIFEST for x in e.get("expect", [])]


@pytest.mark.parametrize(
    ("entry", "expected"), EXPECTATIONS, ids=[f"{e['file']}:{x['row_contains']}" for e, x in EXPECTATIONS]
)
def test_each_rows_parties_items_dates_and_codes(entry: dict[str, Any], expected: dict[str, Any]) -> None:
    records, _, _ = parsed(entry)
    record = the_row(records, expected["row_contains"])
    if entry["signals"] == 0:
        assert record is None  # a passing row raises nothing
        return
    assert record is not None, f"no signal for the row with {expected['row_contains']!r}"
    signal = record.signal
    if "parties" in expected:
        got = [(fold(p.role_label), fold(p.name)) for p in signal.all_parties()]
        assert got == [(fold(p.get("role")), fold(p["name"])) for p in expected["parties"]]
    if "failed_items" in expected:
        got_items = [(fold(i.item), fold(i.result), fold(i.standard)) for i in signal.detail.failed_items]
        assert got_items == [
            (fold(i["item"]), fold(i.get("result")), fold(i.get("standard"))) for i in expected["failed_items"]
        ]
    product = signal.product
    for field in ("production_date", "purchase_date"):
        if field in expected:
            got_date = getattr(product, field) if product else None
            assert got_date == (date.fromisoformat(expected[field]) if expected[field] else None), field
    if "batch" in expected:
        assert fold(product.batch if product else None) == fold(expected["batch"])
    if "credit_code" in expected:
        codes = [p.credit_code for p in signal.all_parties()]
        assert expected["credit_code"] in codes
