"""Each feed adapter against project-made files with every quirk, and each kind of bad file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from certwatch.demo import bulletins as synthetic
from services.ingest.feeds import FileRejected, ParsedRecord, ParseResult, RowRejected, parse_file
from services.ingest.feeds.cells import BadCell, failed_items, parse_date, text
from services.ingest.feeds.credit_list import load_snapshot, snapshot_of
from shared.contracts.ingest import CheckLevel, CreditCodeStatus, SignalKind

Writer = Callable[[Path], Path]  # writes a file of one shape where it is told, and says where


def parsed(kind: str, path: Path, **kwargs: Any) -> tuple[list[ParsedRecord], list[RowRejected], ParseResult]:
    result = parse_file(kind, path, feed="test", **kwargs)
    items = list(result.items())
    return [i for i in items if isinstance(i, ParsedRecord)], [i for i in items if isinstance(i, RowRejected)], result


# ---------------------------------------------------------------- cells


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2024-01-09", date(2024, 1, 9)),
        ("20240211", date(2024, 2, 11)),
        ("2024/04/21", date(2024, 4, 21)),
        ("2024.05.06", date(2024, 5, 6)),
        ("2024年03月", date(2024, 3, 1)),
        ("2024-07", date(2024, 7, 1)),
        ("2024年3月5日", date(2024, 3, 5)),
        ("2024-06-02(购进日期)", date(2024, 6, 2)),
        ("2024-06-02（检验日期）", date(2024, 6, 2)),
        ("/", None),
        ("批号HY2024A", None),
    ],
)
def test_dates_in_mixed_formats(cell: str, expected: date | None) -> None:
    assert parse_date(cell) == expected


@pytest.mark.parametrize("cell", ["2024-02-30", "2024-13-01", "20241340"])
def test_impossible_dates_are_refused(cell: str) -> None:
    with pytest.raises(BadCell, match="impossible date"):
        parse_date(cell)


def test_placeholders_and_full_width_forms() -> None:
    assert text("/") is None and text("—") is None and text("无") is None and text("  ") is None
    assert text("ＨＹ－４８２０Ａ") == "HY-4820A"


@pytest.mark.parametrize("separator", ["║", "|", "丨", "‖"])
def test_combined_failed_item_cells_with_each_separator(separator: str) -> None:
    items = failed_items(
        f"噻虫胺{separator}0.12mg/kg{separator}≤0.01mg/kg、灭蝇胺{separator}0.9mg/kg{separator}≤0.5mg/kg"
    )
    assert [(i.item, i.result, i.standard) for i in items] == [
        ("噻虫胺", "0.12mg/kg", "≤0.01mg/kg"),
        ("灭蝇胺", "0.9mg/kg", "≤0.5mg/kg"),
    ]


def test_a_standard_value_with_semicolons_and_superscripts_stays_whole() -> None:
    [item] = failed_items("菌落总数║1.2×10⁵CFU/g║n=5;c=2;m=10⁴;M=10⁵CFU/g")
    assert item.result == "1.2×10⁵CFU/g" and item.standard == "n=5;c=2;m=10⁴;M=10⁵CFU/g"


def test_plain_failed_items_split_on_list_separators() -> None:
    assert [i.item for i in failed_items("绳带要求、纤维含量")] == ["绳带要求", "纤维含量"]
    assert [i.item for i in failed_items("输出电压;标志和说明")] == ["输出电压", "标志和说明"]
    assert failed_items("/") == []


# ---------------------------------------------------------------- spot checks


def test_xlsx_bulletin_with_titles_merged_cells_several_sheets_and_footnotes(tmp_path: Path) -> None:
    records, rejected, result = parsed("spot_check", synthetic.write_spot_check_xlsx(tmp_path / "b.xlsx"))
    assert result.metadata["sheets"] == ["国抽", "省抽"]
    assert len(records) == 6
    first = records[0].signal
    assert first.kind is SignalKind.SPOT_CHECK_FAILURE
    assert first.subject.name == "浙江宏远电器有限公司" and first.subject.role == "producer"
    assert first.detail.bulletin_no == "市场监管总局2024年第11号"  # from the title rows
    assert first.detail.level is CheckLevel.NATIONAL
    assert first.published_on == date(2024, 6, 18)
    assert first.detail.sampled_unit == "宁波市鄞州区宏远电器厂"
    assert [i.item for i in first.detail.failed_items] == ["输出电压", "标志和说明"]
    assert records[1].signal.product and records[1].signal.product.name == "电动自行车用充电器"  # merged cell filled
    product = records[3].signal.product  # printed `2024.05.06(购进日期)`: a purchase date, not a production date
    assert product and product.purchase_date == date(2024, 5, 6) and product.production_date is None
    provincial = records[-1].signal
    assert provincial.detail.level is CheckLevel.PROVINCIAL and provincial.subject.name.startswith("佛山市顺德区顺味源")
    reasons = [r.reason for r in rejected]
    assert any("names no enterprise" in r for r in reasons)
    assert any("impossible date '2024-02-30'" in r for r in reasons)
    assert all(r.row for r in rejected)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_bulletin_in_each_encoding_gives_the_same_signals(tmp_path: Path, encoding: str) -> None:
    records, rejected, _ = parsed("spot_check", synthetic.write_spot_check_csv(tmp_path / "b.csv", encoding))
    assert [r.signal.subject.name for r in records][:2] == ["浙江宏远电器有限公司", "宏远电器(浙江)有限公司"]
    assert len(records) == 5 and len(rejected) == 2
    utf8, _, _ = parsed("spot_check", synthetic.write_spot_check_csv(tmp_path / "u.csv", "utf-8"))
    assert [r.signal.signal_id for r in records] == [r.signal.signal_id for r in utf8]


def test_food_bulletin_header_synonyms_placeholders_and_contract_manufacturers(tmp_path: Path) -> None:
    records, rejected, _ = parsed("food_spot_check", synthetic.write_food_csv(tmp_path / "f.csv"))
    assert not rejected
    kinds = {r.signal.kind for r in records}
    assert kinds == {SignalKind.FOOD_SPOT_CHECK_FAILURE}
    produce = records[2].signal  # agricultural produce: "/" as producer, the stall is the subject
    assert produce.subject.name == "昆山市某某农贸市场王某某摊位" and produce.subject.role == "sampled_unit"
    assert len(produce.detail.failed_items) == 2
    entrusted = records[3].signal  # `青岛澄海水产食品有限公司(受托方)`: the role comes off the name
    assert entrusted.subject.name == "青岛澄海水产食品有限公司" and entrusted.subject.role == "entrusted"
    assert [(p.role_label, p.name) for p in entrusted.parties] == [("受托方", "青岛澄海水产食品有限公司")]
    assert records[1].signal.detail.bulletin_no == "粤市监抽检〔2024〕27号"


def test_the_same_record_gets_the_same_signal_id_every_time(tmp_path: Path) -> None:
    path = synthetic.write_spot_check_xlsx(tmp_path / "b.xlsx")
    first, _, _ = parsed("spot_check", path)
    again, _, _ = parsed("spot_check", path)
    assert [r.signal.signal_id for r in first] == [r.signal.signal_id for r in again]
    assert len({r.signal.signal_id for r in first}) == len(first)


# ---------------------------------------------------------------- credit lists


def test_credit_list_listings_removals_legacy_numbers_and_invalid_codes(tmp_path: Path) -> None:
    records, rejected, _ = parsed("serious_illegal", synthetic.write_credit_increment(tmp_path / "c.csv"))
    by_name = {r.signal.subject.name: r.signal for r in records}
    assert by_name["昆山市凌岳线缆有限公司"].kind is SignalKind.SERIOUS_ILLEGAL_LISTED
    assert by_name["昆山市凌岳线缆有限公司"].subject.credit_code_status is CreditCodeStatus.VALID
    removed = by_name["晋江市福锦食品有限公司"]
    assert removed.kind is SignalKind.SERIOUS_ILLEGAL_REMOVED and removed.detail.removed_on == date(2024, 8, 1)
    invalid = by_name["某某错码贸易有限公司"].subject
    assert invalid.credit_code == "91330212PDY0010124" and invalid.credit_code_status is CreditCodeStatus.INVALID
    assert by_name["宁波市鄞州区某某商行"].subject.credit_code_status is CreditCodeStatus.VALID_LEGACY
    assert sorted(r.row or 0 for r in rejected) == [7, 8]  # no enterprise; impossible date


def test_snapshot_diff_yields_new_listings_changes_and_removals_only(tmp_path: Path) -> None:
    rows = synthetic.credit_rows(300)
    first_path = synthetic.write_credit_csv(tmp_path / "s1.csv", rows)
    first, _, result = parsed("abnormal_operation", first_path, snapshot=True)
    assert len(first) == 300 and result.rows_read == 300
    assert len(load_snapshot(result.snapshot)) == 300
    assert load_snapshot(snapshot_of(first_path)) == load_snapshot(result.snapshot)
    changed = [list(r) for r in rows[10:]]  # 10 gone
    changed[0][4] = "新的列入原因"  # one changed
    changed += synthetic.credit_rows(5, start=1000)  # 5 new
    second, _, again = parsed(
        "abnormal_operation",
        synthetic.write_credit_csv(tmp_path / "s2.csv", changed),
        previous_snapshot=result.snapshot,
    )
    kinds = [r.signal.kind for r in second]
    assert kinds.count(SignalKind.ABNORMAL_OPERATION_REMOVED) == 10
    assert kinds.count(SignalKind.ABNORMAL_OPERATION_LISTED) == 6
    assert again.unchanged == 289 and again.rows_read == 295
    removed_codes = {
        r.signal.subject.credit_code for r in second if r.signal.kind is SignalKind.ABNORMAL_OPERATION_REMOVED
    }
    assert removed_codes == {row[1] for row in rows[:10]}


# ---------------------------------------------------------------- status and accidents


def test_licence_and_ccc_status_changes(tmp_path: Path) -> None:
    records, rejected, result = parsed("licence_status", synthetic.write_status_csv(tmp_path / "s.csv"))
    assert [r.signal.kind for r in records] == [SignalKind.CCC_SUSPENDED, SignalKind.LICENCE_CANCELLED]
    assert records[0].signal.detail.certificate_no == "2021010701002233"
    assert result.skipped == 1  # still valid, no change: not a signal
    assert [("names no holder" in r.reason, "unknown status '冻结'" in r.reason) for r in rejected] == [
        (True, False),
        (False, True),
    ]


@pytest.mark.parametrize("writer", [synthetic.write_accident_json, synthetic.write_accident_csv])
def test_accidents_and_recalls_in_json_and_csv(tmp_path: Path, writer: Writer) -> None:
    records, rejected, _ = parsed("accident", writer(tmp_path / "a.data"))
    assert [r.signal.kind for r in records] == [SignalKind.RECALL, SignalKind.QUALITY_ACCIDENT]
    assert records[0].signal.subject.credit_code_status is CreditCodeStatus.VALID
    assert len(rejected) == 2


# ---------------------------------------------------------------- bad files


@pytest.mark.parametrize(
    ("writer", "kind", "message"),
    [
        (synthetic.write_empty, "spot_check", "empty"),
        (synthetic.write_wrong_encoding, "spot_check", "neither UTF-8 nor GBK"),
        (synthetic.write_truncated_xlsx, "spot_check", "truncated or corrupt"),
        (synthetic.write_missing_columns, "spot_check", "标称生产企业名称 or 被抽样单位名称"),
        (synthetic.write_missing_columns, "serious_illegal", "企业名称 or 统一社会信用代码"),
    ],
)
def test_bad_files_are_refused_with_a_specific_reason(tmp_path: Path, writer: Writer, kind: str, message: str) -> None:
    path = writer(tmp_path / "bad.xlsx")
    with pytest.raises(FileRejected, match=message):
        list(parse_file(kind, path, feed="test").items())


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    path = synthetic.write_zip_bomb(tmp_path / "bomb.xlsx", inflated=300 * 1024 * 1024)
    assert path.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(FileRejected, match="zip bomb"):
        parse_file("spot_check", path, feed="test")


def test_a_legacy_xls_file_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)
    with pytest.raises(FileRejected, match=r"legacy \.xls"):
        parse_file("spot_check", path, feed="test")
