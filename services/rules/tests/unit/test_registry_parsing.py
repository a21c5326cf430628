"""Reading the certification body's registry export (services/rules/registry/importer.py) in the formats it
arrives in: the demo export as CSV (UTF-8 with or without BOM, GB18030) and as XLSX, read whole or a chunk at a
time; what a file that cannot be read says; the row problems; and `normalised`, the single-organisation path."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certwatch.demo.registry import REGISTRY_COLUMNS, registry_csv, registry_rows
from services.rules.registry.importer import (
    STATUS_WORDS,
    RegistryStream,
    decode,
    organisation_id,
    parse_registry,
)
from services.rules.registry.schemas import OrganisationIn
from services.rules.registry.service import normalised
from shared.errors import InvalidInput
from shared.identifiers import make_uscc

DEMO = registry_rows()


def as_xlsx(rows: list[dict[str, str]], columns: list[str] = REGISTRY_COLUMNS) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(columns)
    for row in rows:
        sheet.append([row.get(c) or None for c in columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def as_csv(rows: list[dict[str, str]], columns: list[str] = REGISTRY_COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_the_demo_export_is_read_whole_one_organisation_per_row() -> None:
    parsed = parse_registry(registry_csv())
    assert (parsed.rows, parsed.rejected_rows, parsed.problems) == (len(DEMO), 0, [])
    assert list(parsed.organisations) == [r["org_id"] for r in DEMO]
    first = parsed.organisations["ORG-001"]
    assert (first.name, first.credit_code, first.province, first.city) == (
        DEMO[0]["name"],
        DEMO[0]["credit_code"],
        "浙江",
        "宁波",
    )
    [certificate] = first.certificates
    assert (certificate.number, certificate.type, certificate.status) == ("DEMO-CCC-0001", "CCC", "valid")
    assert certificate.products == DEMO[0]["products"].split("|")
    [contact] = first.contacts
    assert (contact.email, contact.mobile, contact.channels) == (
        "quality001@example.com",
        "13800130001",
        ["email", "sms"],
    )
    assert parsed.organisations["ORG-004"].contacts[0].language == "en"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_the_same_export_in_each_encoding_reads_the_same(encoding: str) -> None:
    text = as_csv(DEMO)
    assert parse_registry(text.encode(encoding)).organisations == parse_registry(registry_csv()).organisations


def test_the_same_export_as_xlsx_reads_the_same() -> None:
    from_xlsx = parse_registry(as_xlsx(DEMO))
    assert from_xlsx.problems == [] and from_xlsx.organisations == parse_registry(registry_csv()).organisations


def test_a_name_outside_gbk_survives_gb18030() -> None:
    rows = [{**DEMO[0], "name": "䶮𠮷电器有限公司"}]
    assert parse_registry(as_csv(rows).encode("gb18030")).organisations["ORG-001"].name == "䶮𠮷电器有限公司"


def test_bytes_that_are_neither_utf8_nor_gb18030_are_refused() -> None:
    with pytest.raises(InvalidInput, match="neither UTF-8 nor GB18030"):
        decode(b"org_id,name\n\xff\xff")
    with pytest.raises(InvalidInput, match="neither UTF-8 nor GB18030"):
        parse_registry(b"org_id,name\nA,\xff\xfe\n")
    assert decode("org_id".encode("utf-8-sig")) == "org_id"  # the BOM is not part of the first column


def test_a_broken_workbook_is_refused_saying_so() -> None:
    with pytest.raises(InvalidInput, match="the registry XLSX cannot be read"):
        parse_registry(b"PK\x03\x04 not really a zip")


def test_an_xlsx_without_the_required_columns_is_refused_naming_them() -> None:
    with pytest.raises(InvalidInput, match="no column org_id") as refused:
        parse_registry(as_xlsx(DEMO, ["name", "credit_code"]))
    assert refused.value.detail == {"missing": ["org_id"]}


def test_a_field_over_the_csv_limit_makes_the_file_unreadable_saying_where() -> None:
    data = f"org_id,name\nA,浙江宏远电器有限公司\nB,{'x' * 200_000}\n".encode()
    with pytest.raises(InvalidInput, match="the registry CSV is malformed after line"):
        parse_registry(data)


def test_a_certificate_claimed_by_a_second_organisation_is_refused_on_that_row() -> None:
    rows = [DEMO[0], {**DEMO[1], "certificate_no": DEMO[0]["certificate_no"]}, {**DEMO[0], "contact_email": ""}]
    parsed = parse_registry(as_csv(rows).encode())
    assert [(p.row, p.field, p.problem) for p in parsed.problems] == [
        (3, "certificate_no", "is the certificate of ORG-001 already")
    ]
    assert list(parsed.organisations) == ["ORG-001"] and parsed.rejected_rows == 1
    assert len(parsed.organisations["ORG-001"].certificates) == 1  # its own row again adds nothing


def test_one_organisation_over_several_rows_collects_its_certificates_contacts_and_sites() -> None:
    base = {"org_id": "A", "name": "浙江宏远电器有限公司"}
    rows = [
        {
            **base,
            "certificate_no": "C-1",
            "certificate_type": "CCC",
            "contact_email": "a@x.example",
            "sites": "宁波工厂：浙江省宁波市鄞州区姜山镇",
        },
        {
            **base,
            "certificate_no": "Q-1",
            "certificate_type": "",
            "contact_email": "b@x.example",
            "sites": "宁波工厂：浙江省宁波市鄞州区姜山镇",
        },
        {**base, "certificate_no": "C-1", "certificate_type": "CCC", "contact_email": "a@x.example"},
    ]
    columns = ["org_id", "name", "certificate_no", "certificate_type", "contact_email", "sites"]
    org = parse_registry(as_csv(rows, columns).encode()).organisations["A"]
    assert [(c.number, c.type) for c in org.certificates] == [("C-1", "CCC"), ("Q-1", "QMS")]  # QMS by default
    assert [c.email for c in org.contacts] == ["a@x.example", "b@x.example"]
    assert [s.name for s in org.sites] == ["宁波工厂"]


@pytest.mark.parametrize(("printed", "status"), [*STATUS_WORDS.items(), ("suspended", "suspended")])
def test_a_status_as_printed_or_as_stored_is_read(printed: str, status: str) -> None:
    rows = [{**DEMO[0], "certificate_status": printed}]
    assert parse_registry(as_csv(rows).encode()).organisations["ORG-001"].certificates[0].status == status


def test_an_unknown_status_refuses_the_row_naming_the_column() -> None:
    parsed = parse_registry(as_csv([{**DEMO[0], "certificate_status": "冻结"}]).encode())
    assert not parsed.organisations and [p.field for p in parsed.problems] == ["certificate_status"]


@pytest.mark.parametrize(
    ("column", "value"),
    [("contact_channels", "fax"), ("contact_email", "not-an-address"), ("certificate_type", "x" * 31)],
)
def test_a_bad_cell_is_reported_under_the_column_the_export_has(column: str, value: str) -> None:
    row = {**DEMO[0], "contact_email": "quality@hongyuan.example", column: value}  # a contact, so it is read
    parsed = parse_registry(as_csv([row], [*REGISTRY_COLUMNS, "contact_channels"]).encode())
    assert not parsed.organisations and [p.field for p in parsed.problems] == [column]


def test_a_placeholder_credit_code_is_no_problem_and_a_wrong_one_says_why() -> None:
    rows = [{**DEMO[0], "credit_code": "无"}, {**DEMO[1], "credit_code": DEMO[1]["credit_code"][:-1] + "0"}]
    parsed = parse_registry(as_csv(rows).encode())
    assert list(parsed.organisations) == ["ORG-001"]
    [problem] = parsed.problems
    assert (problem.row, problem.field) == (3, "credit_code") and "check" in problem.problem


def test_read_a_chunk_at_a_time_every_organisation_comes_once_with_its_id_and_compact_code() -> None:
    stream = RegistryStream(registry_csv(), chunk=3)
    chunks = list(stream)
    assert [len(c.pieces) for c in chunks] == [3] * (len(DEMO) // 3) + ([len(DEMO) % 3] if len(DEMO) % 3 else [])
    pieces = [p for c in chunks for p in c.pieces]
    assert [p[0] for p in pieces] == list(range(1, len(DEMO) + 1))  # numbered in the order of their first rows
    assert [(p[1], p[2]) for p in pieces] == [(r["org_id"], organisation_id(r["org_id"])) for r in DEMO]
    assert [p[5] for p in pieces] == [r["credit_code"] for r in DEMO]
    assert stream.split == set() and stream.pieces == len(DEMO)
    assert sum(len(c.certificates) for c in chunks) == len(DEMO)


def test_an_organisation_whose_rows_are_far_apart_comes_in_pieces_and_is_marked_split() -> None:
    rows = [DEMO[0], DEMO[1], {**DEMO[0], "certificate_no": "DEMO-QMS-9999", "certificate_type": "QMS"}]
    stream = RegistryStream(as_csv(rows).encode(), chunk=2)
    chunks = list(stream)
    assert [[p[1] for p in c.pieces] for c in chunks] == [["ORG-001", "ORG-002"], ["ORG-001"]]
    assert stream.split == {"ORG-001"}


def test_progress_is_told_a_thousand_rows_at_a_time() -> None:
    told: list[int] = []
    rows = "".join(f"ORG-{i},公司{i}\n" for i in range(2500))
    parsed = parse_registry(f"org_id,name\n{rows}".encode(), told.append)
    assert told == [1000, 1000] and parsed.rows == 2500 and len(parsed.organisations) == 2500


def test_the_id_of_an_organisation_is_its_reference_s_and_no_other() -> None:
    assert organisation_id("ORG-001") == organisation_id("ORG-001") != organisation_id("ORG-002")


def test_normalised_compacts_a_valid_code_drops_a_placeholder_and_refuses_an_invalid_one() -> None:
    code = make_uscc("330212", "PDY00101")
    org = OrganisationIn(external_ref="A", name="浙江宏远电器有限公司", credit_code=f" {code[:9]} {code[9:].lower()}")
    assert normalised(org).credit_code == code
    assert normalised(org.model_copy(update={"credit_code": "无"})).credit_code is None
    assert normalised(org.model_copy(update={"credit_code": None})) == org.model_copy(update={"credit_code": None})
    with pytest.raises(InvalidInput, match="credit_code '91330212PDY0010124': credit code check failed") as refused:
        normalised(org.model_copy(update={"credit_code": "91330212PDY0010124"}))
    assert refused.value.detail == {"field": "credit_code"}


CELLS = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=300))
def test_any_bytes_are_read_or_refused_as_a_whole_never_a_crash(body: bytes) -> None:
    try:
        parsed = parse_registry(b"org_id,name,credit_code,certificate_no\n" + body)
    except InvalidInput as refused:
        assert refused.status_code == 422 and refused.message
    else:
        assert parsed.rejected_rows <= parsed.rows and len(parsed.organisations) <= parsed.rows


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(CELLS, CELLS, CELLS, CELLS), max_size=8))
def test_every_row_is_kept_or_refused_with_its_row_number(rows: list[tuple[str, str, str, str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["org_id", "name", "credit_code", "certificate_no"])
    writer.writerows(rows)
    parsed = parse_registry(out.getvalue().encode())
    assert parsed.rows == len(rows)
    assert {p.row for p in parsed.problems} <= set(range(2, parsed.rows + 2))
    assert len({p.row for p in parsed.problems}) == parsed.rejected_rows
    for org in parsed.organisations.values():
        assert org.external_ref and org.name
