"""The bulletin shapes issue 10 found misread on real published data, one test each.

The cells below are the shapes quoted from SAMR, provincial and aggregator tables (issue 10); the
layouts copied whole from published bulletins are in test_real_bulletins.py. Each test here failed
on the adapter before issue 10.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.ingest.feeds import FileRejected, ParsedRecord, RowRejected, parse_file
from services.ingest.feeds.base import PassingRow
from services.ingest.feeds.cells import failed_items, split_date, text
from services.ingest.feeds.spot_check import is_passing, level_of
from shared.contracts.ingest import CheckLevel, CreditCodeStatus, SignalKind
from shared.identifiers import make_uscc
from shared.parties import split_parties

HEADER = ["序号", "标称生产企业名称", "标称生产企业地址", "被抽样单位名称", "被抽样单位地址", "食品名称", "规格型号",
          "生产日期/批号", "不合格项目║检验结果║标准值", "分类"]  # fmt: skip


def write(
    path: Path, rows: Sequence[Sequence[object]], header: Sequence[str] = HEADER, titles: Sequence[str] = ()
) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        out = csv.writer(handle)
        for title in titles:
            out.writerow([title])
        out.writerow(header)
        out.writerows(rows)
    return path


def items(kind: str, path: Path, **kwargs: Any) -> tuple[list[ParsedRecord], list[RowRejected], list[PassingRow]]:
    found = list(parse_file(kind, path, **{"feed": "shapes", **kwargs}).items())
    return (
        [i for i in found if isinstance(i, ParsedRecord)],
        [i for i in found if isinstance(i, RowRejected)],
        [i for i in found if isinstance(i, PassingRow)],
    )


def row(
    producer: str = "浙江宏远食品有限公司",
    address: str = "杭州市",
    product: str = "饼干",
    batch: str = "2024-03-05",
    failed: str = "菌落总数║1.2×10⁵CFU/g║≤10⁴CFU/g",
) -> list[object]:
    return [1, producer, address, "某超市", "某地", product, "500g", batch, failed, "糕点"]


# ---------------------------------------------------------------- 1. verdicts


@pytest.mark.parametrize("column", ["判定", "结果判定", "结论", "检验结论", "单项结论"])
def test_rows_judged_passing_raise_no_signal_and_are_counted(tmp_path: Path, column: str) -> None:
    rows = [[*row(product=f"p{i}"), verdict] for i, verdict in enumerate(["合格", "不合格", "符合", "通过", "不符合"])]
    records, rejected, passing = items("food_spot_check", write(tmp_path / "m.csv", rows, [*HEADER, column]))
    assert [r.signal.product.name for r in records if r.signal.product] == ["p1", "p4"]
    assert len(passing) == 3 and not rejected


def test_a_whole_file_of_passing_rows_is_accepted_with_no_signals(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", [row(product=f"p{i}") for i in range(4)], titles=["食品安全监督抽检合格产品信息"])
    records, rejected, passing = items("food_spot_check", path)
    assert (len(records), len(rejected), len(passing)) == (0, 0, 4)


def test_without_a_verdict_column_every_row_is_a_failure_as_before(tmp_path: Path) -> None:
    records, _, passing = items("food_spot_check", write(tmp_path / "f.csv", [row(), row(product="x")]))
    assert len(records) == 2 and not passing


@pytest.mark.parametrize(
    ("verdict", "passes"),
    [("合格", True), ("符合", True), ("通过", True), ("合格品", True), ("不合格", False), ("不符合", False),
     ("问题样品", False), ("未通过", False), ("P", True), ("F", False)],
)  # fmt: skip
def test_verdict_words(verdict: str, passes: bool) -> None:
    assert is_passing(verdict) is passes


def test_a_grade_column_is_no_verdict(tmp_path: Path) -> None:
    """产品等级 `合格品` is the product's grade (SAMR's cement list), not the check's verdict."""
    path = write(tmp_path / "g.csv", [[*row(), "合格品"]], [*HEADER, "产品等级"])
    records, _, passing = items("spot_check", path)
    assert len(records) == 1 and not passing


# ---------------------------------------------------------------- 2. several parties in one cell


@pytest.mark.parametrize(
    ("producer", "address", "expected"),
    [
        ("委托方：浙江甲食品有限公司；受委托方：江苏乙食品有限公司", "委托方地址：杭州市西湖区1号；受委托方地址：南京市江宁区2号",
         [("委托方", "entrusting", "浙江甲食品有限公司", "杭州市西湖区1号"),
          ("受委托方", "entrusted", "江苏乙食品有限公司", "南京市江宁区2号")]),
        ("生产商：广东丙食品有限公司；经销商：上海丁贸易有限公司", "广州市3号；上海市4号",
         [("生产商", "manufacturer", "广东丙食品有限公司", "广州市3号"),
          ("经销商", "distributor", "上海丁贸易有限公司", "上海市4号")]),
        ("监制商：福建戊食品有限公司 ；制造商：福建己食品有限公司", None,
         [("监制商", "supervisor", "福建戊食品有限公司", None), ("制造商", "manufacturer", "福建己食品有限公司", None)]),
        ("进口商：上海庚进出口有限公司（原产国：意大利）", "上海市浦东新区5号",
         [("进口商", "importer", "上海庚进出口有限公司", "上海市浦东新区5号")]),
        ("委托方:青岛辛食品有限公司\n受托方:青岛壬食品有限公司", None,
         [("委托方", "entrusting", "青岛辛食品有限公司", None), ("受托方", "entrusted", "青岛壬食品有限公司", None)]),
    ],
)  # fmt: skip
def test_several_parties_in_one_cell_each_with_its_role_and_address(
    tmp_path: Path, producer: str, address: str | None, expected: list[tuple[str, str, str, str | None]]
) -> None:
    [record], _, _ = items(
        "food_spot_check", write(tmp_path / "p.csv", [row(producer=producer, address=address or "/")])
    )
    signal = record.signal
    assert [(p.role_label, p.role, p.name, p.address) for p in signal.parties] == expected
    assert signal.subject.name == expected[0][2]  # v1 readers see the first party
    if "原产国" in producer:
        assert signal.parties[0].origin == "意大利"


def test_a_cell_with_no_roles_is_one_party() -> None:
    assert [(p.name, p.role) for p in split_parties("浙江宏远电器有限公司")] == [("浙江宏远电器有限公司", None)]
    assert [(p.name, p.role) for p in split_parties("宏远电器（浙江）有限公司")] == [("宏远电器（浙江）有限公司", None)]


# ---------------------------------------------------------------- 3. failed items


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("标签\n║不符合║应符合GB 7718-2011要求", [("标签", "不符合", "应符合GB 7718-2011要求")]),
        ("标签║不符合║应符合GB7718-2011、GB28050-2011标准要求",
         [("标签", "不符合", "应符合GB7718-2011、GB28050-2011标准要求")]),
        ("铅(干样品，以Pb计)║1.2mg/kg║≤0.8mg/kg", [("铅(干样品,以Pb计)", "1.2mg/kg", "≤0.8mg/kg")]),
        ("不合格项目 二氧化硫残留量 检验结果 0.15g/kg 标准值 ≤0.1g/kg", [("二氧化硫残留量", "0.15g/kg", "≤0.1g/kg")]),
        ("不合格项目 大肠菌群║检验结结果 检出║标准值 不得检出", [("大肠菌群", "检出", "不得检出")]),
        ("酸价(KOH) ║4.2mg/g ║≤3mg/g; 黄曲霉毒素B₁ ║379μg/kg ║≤20μg/kg",
         [("酸价(KOH)", "4.2mg/g", "≤3mg/g"), ("黄曲霉毒素B₁", "379μg/kg", "≤20μg/kg")]),
        ("大肠菌群项目不符合规定", [("大肠菌群", None, None)]),
    ],
)  # fmt: skip
def test_failed_item_cells(cell: str, expected: list[tuple[str, str | None, str | None]]) -> None:
    assert [(i.item, i.result, i.standard) for i in failed_items(cell)] == expected


def test_items_split_only_outside_brackets() -> None:
    names = [i.item for i in failed_items("苯甲酸及其钠盐(以苯甲酸计，mg/kg)、脱氢乙酸及其钠盐(以脱氢乙酸计)")]
    assert names == ["苯甲酸及其钠盐(以苯甲酸计,mg/kg)", "脱氢乙酸及其钠盐(以脱氢乙酸计)"]


# ---------------------------------------------------------------- 4. dates


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("购进 2020-11-23", (date(2020, 11, 23), True, None)),
        ("购进日期：2025/4/12", (date(2025, 4, 12), True, None)),
        ("2021-04-15(购进日期)", (date(2021, 4, 15), True, None)),
        ("2020年8月21日/H022", (date(2020, 8, 21), False, "H022")),
        ("2020.08.28/0816", (date(2020, 8, 28), False, "0816")),
        ("HY2024A", (None, False, None)),
    ],
)
def test_dates_beside_words_and_batch_numbers(cell: str, expected: tuple[date | None, bool, str | None]) -> None:
    assert split_date(cell) == expected


def test_a_batch_column_beside_a_date_column_loses_neither(tmp_path: Path) -> None:
    header = [h for h in HEADER if h != "生产日期/批号"] + ["批号", "生产日期", "加工日期", "通告日期"]
    base = [c for i, c in enumerate(row()) if HEADER[i] != "生产日期/批号"]
    rows = [[*base, "/", "2024-03-05", "/", "2024-06-18"], [*base[:5], "豆腐", *base[6:], "B-12", "/", "2024/4/2", "/"]]
    records, _, _ = items("food_spot_check", write(tmp_path / "d.csv", rows, header))
    first, second = (r.signal for r in records)
    assert first.product and (first.product.batch, first.product.production_date) == (None, date(2024, 3, 5))
    assert first.published_on == date(2024, 6, 18)
    assert second.product and (second.product.batch, second.product.production_date) == ("B-12", date(2024, 4, 2))


def test_a_purchase_date_is_kept_apart_from_a_production_date(tmp_path: Path) -> None:
    [record], _, _ = items("food_spot_check", write(tmp_path / "b.csv", [row(batch="购进日期：2025/4/12")]))
    product = record.signal.product
    assert product and (product.purchase_date, product.production_date) == (date(2025, 4, 12), None)


# ---------------------------------------------------------------- 5. bulletin metadata


@pytest.mark.parametrize(("column", "value"), [("通告号", "2022年6月第1期"), ("公告号", "2022年第8期")])
def test_the_bulletin_number_column(tmp_path: Path, column: str, value: str) -> None:
    [record], _, _ = items("food_spot_check", write(tmp_path / "n.csv", [[*row(), value]], [*HEADER, column]))
    assert record.signal.detail.bulletin_no == value


def test_a_bulletin_number_without_its_year_takes_the_titles() -> None:
    path_rows = [[*row(), "6月第1期", "2022-6-1"]]
    header = [*HEADER, "通告号", "通告日期"]
    with_title = write(
        Path(f"/tmp/certwatch-shapes-{id(path_rows)}.csv"), path_rows, header, ["2022年6月第1期食品抽检不合格信息"]
    )
    try:
        [record], _, _ = items("food_spot_check", with_title)
        assert (record.signal.detail.bulletin_no, record.signal.published_on) == ("2022年6月第1期", date(2022, 6, 1))
    finally:
        with_title.unlink()


@pytest.mark.parametrize(
    ("source", "level"),
    [("国抽", CheckLevel.NATIONAL), ("国家市场监督管理总局2024年国家食品安全监督抽检", CheckLevel.NATIONAL),
     ("省抽", CheckLevel.PROVINCIAL), ("市抽", CheckLevel.CITY), ("县抽", CheckLevel.COUNTY),
     ("浙江省市场监督管理局", CheckLevel.PROVINCIAL), ("上海市市场监督管理局", CheckLevel.PROVINCIAL),
     ("湘潭市市场监督管理局", CheckLevel.CITY), ("金乡县市场监督管理局", CheckLevel.COUNTY),
     ("重庆市綦江区市场监督管理局", CheckLevel.COUNTY), ("中山市监督抽检", CheckLevel.CITY),
     ("依据食品安全国家标准", None)],
)  # fmt: skip
def test_the_level_of_a_check(source: str, level: CheckLevel | None) -> None:
    assert level_of(source) is level


def test_the_level_from_the_task_source_column_or_the_feeds_publisher(tmp_path: Path) -> None:
    sourced = write(tmp_path / "t.csv", [[*row(), "国家市场监督管理总局"]], [*HEADER, "任务来源/项目名称"])
    [record], _, _ = items("food_spot_check", sourced, publisher="金乡县市场监督管理局")
    assert record.signal.detail.level is CheckLevel.NATIONAL  # the task source says who organised the check
    [plain], _, _ = items("food_spot_check", write(tmp_path / "p.csv", [row()]), publisher="金乡县市场监督管理局")
    assert plain.signal.detail.level is CheckLevel.COUNTY and plain.signal.detail.authority == "金乡县市场监督管理局"


# ---------------------------------------------------------------- 6. identifiers


@pytest.mark.parametrize("column", ["生产企业统一社会信用代码", "被抽样单位统一社会信用代码"])
def test_a_bulletins_credit_code_column_reaches_the_party(tmp_path: Path, column: str) -> None:
    code = make_uscc("330212", "PDY00101")
    producer = "浙江宏远食品有限公司" if column.startswith("生产") else "/"
    [record], _, _ = items(
        "food_spot_check", write(tmp_path / "c.csv", [[*row(producer=producer), code]], [*HEADER, column])
    )
    subject = record.signal.subject
    assert (subject.credit_code, subject.credit_code_status) == (code, CreditCodeStatus.VALID)


# ---------------------------------------------------------------- 7. headers and formats


@pytest.mark.parametrize(
    ("header", "field", "value"),
    [("检验单位", "testing_body", "某检测"), ("检验机构名称", "testing_body", "某检测"), ("检验值", "result", "0.3mg/kg"),
     ("抽样单编号", "note", "抽样编号：XC2020"), ("检验报告编号", "note", "检验报告编号：R-1"), ("样品批号", "batch", "A1")],
)  # fmt: skip
def test_header_synonyms(tmp_path: Path, header: str, field: str, value: str) -> None:
    columns = [h if h != "不合格项目║检验结果║标准值" else "不合格项目" for h in HEADER]
    shown = value.split("：")[-1]
    [record], _, _ = items(
        "food_spot_check", write(tmp_path / "h.csv", [[*row(failed="铅(以Pb计)"), shown]], [*columns, header])
    )
    signal = record.signal
    if field == "result":
        assert signal.detail.failed_items[0].result == value
    elif field == "batch":
        assert signal.product and signal.product.batch == value
    else:
        assert value in str(getattr(signal.detail, field))


def test_gsxt_and_credit_china_reason_and_authority_columns(tmp_path: Path) -> None:
    code = make_uscc("370211", "MA3C4D5E")
    header = [
        "统一社会信用代码",
        "企业名称",
        "列入日期",
        "列入经营异常名录原因类型名称",
        "列入决定机关名称",
        "列入决定书文号",
    ]
    rows = [
        [
            code,
            "青岛某某贸易有限公司",
            "2024-05-06",
            "通过登记的住所或者经营场所无法联系",
            "青岛市黄岛区市场监督管理局",
            "青黄市监异列字〔2024〕第18号",
        ]
    ]
    [record], _, _ = items("abnormal_operation", write(tmp_path / "l.csv", rows, header))
    detail = record.signal.detail
    assert record.signal.kind is SignalKind.ABNORMAL_OPERATION_LISTED
    assert (detail.reason, detail.authority, detail.bulletin_no) == (
        "通过登记的住所或者经营场所无法联系",
        "青岛市黄岛区市场监督管理局",
        "青黄市监异列字〔2024〕第18号",
    )
    removal = [
        "统一社会信用代码",
        "企业名称",
        "列入日期",
        "移出日期",
        "移出经营异常名录原因",
        "列入严重违法失信企业名单（黑名单）原因",
    ]
    path = write(
        tmp_path / "r.csv", [[code, "青岛某某贸易有限公司", "2021-05-06", "2024-05-06", "已补报年报", "/"]], removal
    )
    [removed], _, _ = items("abnormal_operation", path)
    assert removed.signal.kind is SignalKind.ABNORMAL_OPERATION_REMOVED and removed.signal.detail.reason == "已补报年报"


def test_no_header_row_names_the_columns_found_and_wanted(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as caught:
        parse_file("spot_check", write(tmp_path / "x.csv", [[1, "a", "b"]], ["序号", "公司", "货品"]), feed="x")
    assert "标称生产企业名称" in str(caught.value) and "序号, 公司, 货品" in str(caught.value)


def test_json_lines_wherever_json_is_read(tmp_path: Path) -> None:
    code = make_uscc("330212", "PDY00101")
    path = tmp_path / "a.jsonl"
    lines = [{"enterprise": "浙江宏远电器有限公司", "credit_code": code, "type": "召回", "product": "电暖器"},
             {"enterprise": "宁波某某电器有限公司", "type": "事故", "description": "起火"}]  # fmt: skip
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\nnot json\n", encoding="utf-8")
    records, rejected, _ = items("accident", path)
    assert [r.signal.kind for r in records] == [SignalKind.RECALL, SignalKind.QUALITY_ACCIDENT]
    assert len(rejected) == 1 and "line 3 is not JSON" in rejected[0].reason


def test_line_breaks_inside_cells_are_layout() -> None:
    assert text("土豆粉丝\n(湿粉条)") == "土豆粉丝(湿粉条)"
    assert text("Model\nX-1") == "Model X-1"


def test_utf16_tab_separated_text_as_excel_exports_it(tmp_path: Path) -> None:
    """Excel's "Unicode text" export: UTF-16 with a byte-order mark, tab-separated (issue 12 item 8)."""
    lines = ["食品安全监督抽检不合格产品信息", "\t".join(HEADER), "\t".join(str(c) for c in row())]
    path = tmp_path / "unicode.txt"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-16")
    [record], rejected, _ = items("food_spot_check", path)
    assert not rejected and record.signal.subject.name == "浙江宏远食品有限公司"
    assert record.signal.detail.failed_items[0].item == "菌落总数"
