"""Each feed adapter's parse step, field by field: the signal each row becomes, and each row rejected with
its reason.

Spot checks run on the real published layouts in tests/fixtures/bulletins (sources in its README); the
expected values are read off the file's cells. The credit lists, the licence and CCC status lists and the
accident and recall notices have no real-format fixture there yet: their files here are written in the
column headings those publishers print (gsxt 经营异常名录, CNCA / SAMR certificate status, SAMR recall
notices) with made-up enterprises, one row per behaviour.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from services.ingest.feeds import parse_file
from services.ingest.feeds.base import ParsedRecord, RowRejected
from shared.contracts.ingest import CheckLevel, CreditCodeStatus, FailedItem, SignalKind

CORPUS = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "bulletins"
LIAONING = CORPUS / "03_liaoning-province_food_failed.csv"
VALID_CODE = "91330212PDY0010123"  # passes the GB 32100 check
BAD_REGNO = "330212000012345"  # a 注册号 whose check digit is wrong


def items(kind: str, path: Path, publisher: str | None = None) -> tuple[list[ParsedRecord], list[RowRejected]]:
    found = list(parse_file(kind, path, feed="test", publisher=publisher).items())
    return [i for i in found if isinstance(i, ParsedRecord)], [i for i in found if isinstance(i, RowRejected)]


def reasons(rejected: list[RowRejected]) -> list[tuple[int | None, str]]:
    return [(r.row, r.reason) for r in rejected]


# ---------------------------------------------------------------- spot checks (real layouts)


def test_a_provincial_food_bulletin_row_field_by_field() -> None:
    [record], rejected = items("food_spot_check", LIAONING, publisher="辽宁省市场监督管理局")
    signal = record.signal
    assert rejected == [] and record.row == 2 and signal.kind is SignalKind.FOOD_SPOT_CHECK_FAILURE
    assert (signal.subject.name, signal.subject.address, signal.subject.role) == (
        "青州财记食品有限公司",
        "山东省潍坊市青州市弥河镇工业园",
        "producer",
    )
    assert signal.subject.credit_code_status is CreditCodeStatus.ABSENT  # the bulletin prints no code
    assert signal.product is not None
    assert (signal.product.name, signal.product.brand, signal.product.model, signal.product.category) == (
        "脆锅巴原味",
        "十里古街+图形",
        "200g/盒",
        "薯类和膨化食品",
    )
    assert signal.product.production_date == date(2019, 8, 29)
    assert signal.detail.failed_items == [
        FailedItem(item="大肠菌群", result="30;60;30;15;45CFU/g", standard="n=5,c=2,m=10,M=100CFU/g")
    ]
    assert (signal.detail.level, signal.detail.authority) == (CheckLevel.PROVINCIAL, "辽宁省市场监督管理局")
    assert (signal.detail.testing_body, signal.detail.sampled_unit) == ("沈阳食品检验所", "沈阳市大东区兴乃文食品商行")
    assert signal.raw_record_ref == record.content_hash and record.raw["食品名称"] == "脆锅巴原味"


def test_a_national_product_bulletin_splits_date_and_batch_and_each_failed_item() -> None:
    records, rejected = items("spot_check", CORPUS / "12_samr-national_product_failed.xlsx", "国家市场监督管理总局")
    got = [
        (
            r.signal.subject.name,
            r.signal.product.name if r.signal.product else None,
            r.signal.product.model if r.signal.product else None,
            r.signal.product.batch if r.signal.product else None,
            r.signal.product.production_date if r.signal.product else None,
            [i.item for i in r.signal.detail.failed_items],
        )
        for r in records
    ]
    assert rejected == [] and got == [
        (
            "天津鑫达山建筑材料制造有限公司",
            "普通硅酸盐水泥",
            "P·O 42.5",
            "0816",
            date(2020, 8, 28),
            ["烧失量", "氯离子"],
        ),
        ("内蒙古金达水泥有限公司", "粉煤灰硅酸盐水泥", "P·F 32.5", "H022", date(2020, 8, 21), ["氯离子"]),
        ("赤峰星河水泥有限责任公司", "普通硅酸盐水泥", "P·O 42.5", "2020-08S7", date(2020, 8, 13), ["水溶性铬(VI)"]),
    ]
    assert {(r.signal.detail.level, r.signal.detail.sampled_unit) for r in records} == {(CheckLevel.NATIONAL, None)}


def test_rows_of_a_real_layout_naming_no_enterprise_or_an_impossible_date_are_rejected_alone(tmp_path: Path) -> None:
    header, row = LIAONING.read_text(encoding="utf-8-sig").splitlines()[:2]
    nameless = ",,,,脆锅巴原味,200g/盒,十里古街+图形,2019/8/29,大肠菌群,薯类和膨化食品,沈阳食品检验所,"
    path = tmp_path / "liaoning.csv"
    path.write_text("\n".join([header, row, nameless, row.replace("2019/8/29", "2019/2/30")]) + "\n", "utf-8-sig")
    records, rejected = items("food_spot_check", path, publisher="辽宁省市场监督管理局")
    assert [r.row for r in records] == [2]
    assert reasons(rejected) == [
        (3, "csv row 3: names no enterprise (producer and sampled unit are empty)"),
        (4, "csv row 4: impossible date '2019/2/30' in 生产日期/批号"),
    ]
    assert "脆锅巴原味" in rejected[0].raw  # the raw row is kept to show why


# ---------------------------------------------------------------- credit lists


def test_an_abnormal_operations_list_listing_removal_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "abnormal.csv"
    path.write_text(
        "统一社会信用代码/注册号,企业名称,列入经营异常名录原因类型名称,列入日期,作出决定机关（列入）,"
        "移出经营异常名录原因类型名称,移出日期,作出决定机关（移出）\n"
        f"{VALID_CODE},宁波甲贸易有限公司,通过登记的住所或者经营场所无法联系的,2024-03-05,宁波市鄞州区市场监督管理局,,,\n"
        f"{BAD_REGNO},宁波乙电器有限公司,未按规定公示年度报告的,2023-07-01,宁波市鄞州区市场监督管理局,"
        "补报未报年份的年度报告并公示,2024-01-10,宁波市北仑区市场监督管理局\n"
        ",,未按规定公示年度报告的,2024-03-05,宁波市鄞州区市场监督管理局,,,\n"
        f"{VALID_CODE},宁波丙有限公司,通过登记的住所或者经营场所无法联系的,2024-02-30,宁波市鄞州区市场监督管理局,,,\n",
        encoding="utf-8",
    )
    (listed, removed), rejected = items("abnormal_operation", path)
    assert (listed.signal.kind, listed.signal.subject.name, listed.signal.subject.credit_code) == (
        SignalKind.ABNORMAL_OPERATION_LISTED,
        "宁波甲贸易有限公司",
        VALID_CODE,
    )
    assert listed.signal.subject.credit_code_status is CreditCodeStatus.VALID
    assert (listed.signal.detail.reason, listed.signal.detail.authority, listed.signal.published_on) == (
        "通过登记的住所或者经营场所无法联系的",
        "宁波市鄞州区市场监督管理局",
        date(2024, 3, 5),
    )
    # A removal: its own reason, authority and date; a bad 注册号 kept as evidence only.
    assert removed.signal.kind is SignalKind.ABNORMAL_OPERATION_REMOVED
    assert (removed.signal.detail.reason, removed.signal.detail.authority) == (
        "补报未报年份的年度报告并公示",
        "宁波市北仑区市场监督管理局",
    )
    assert (removed.signal.detail.listed_on, removed.signal.detail.removed_on, removed.signal.published_on) == (
        date(2023, 7, 1),
        date(2024, 1, 10),
        date(2024, 1, 10),
    )
    assert removed.signal.subject.credit_code_status is CreditCodeStatus.INVALID
    assert removed.signal.subject_key == "宁波乙电器有限公司"  # an invalid code never keys a match
    assert (
        removed.signal.detail.note
        == f"credit code {BAD_REGNO} is invalid: registration number check digit does not match"
    )
    assert reasons(rejected) == [
        (4, "row 4: names no enterprise (企业名称 and 统一社会信用代码 are empty)"),
        (5, "row 5: impossible date '2024-02-30'"),
    ]


# ---------------------------------------------------------------- licence and CCC status


def test_a_certificate_status_list_ccc_and_licence_changes_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "status.csv"
    path.write_text(
        "证书编号,证书类型,持证人,统一社会信用代码,证书状态,状态变更日期,状态原因,产品/认证范围,发证机关\n"
        f"2020010201234567,CCC,浙江甲电器有限公司,{VALID_CODE},暂停,2024-03-05,监督检验不合格,电热水壶,中国质量认证中心\n"
        "XK16-204-01234,,浙江乙食品有限公司,,注销,2024-03-06,企业申请注销,,浙江省市场监督管理局\n"
        "XK16-204-05678,,浙江丙食品有限公司,,有效,,,,浙江省市场监督管理局\n"
        "2020010201230000,CCC,,,撤销,2024-03-05,,,\n"
        "2020010201239999,CCC,浙江丁电器有限公司,,冻结,2024-03-05,,,\n",
        encoding="utf-8",
    )
    result = parse_file("licence_status", path, feed="test")
    found = list(result.items())
    (ccc, licence), rejected = (
        [i for i in found if isinstance(i, ParsedRecord)],
        [i for i in found if isinstance(i, RowRejected)],
    )
    assert (ccc.signal.kind, ccc.signal.subject.name, ccc.signal.subject.credit_code) == (
        SignalKind.CCC_SUSPENDED,
        "浙江甲电器有限公司",
        VALID_CODE,
    )
    assert (ccc.signal.detail.certificate_no, ccc.signal.detail.status, ccc.signal.detail.reason) == (
        "2020010201234567",
        "暂停",
        "监督检验不合格",
    )
    assert ccc.signal.product is not None and ccc.signal.product.name == "电热水壶"
    assert (ccc.signal.detail.authority, ccc.signal.published_on) == ("中国质量认证中心", date(2024, 3, 5))
    assert (licence.signal.kind, licence.signal.detail.certificate_no, licence.signal.published_on) == (
        SignalKind.LICENCE_CANCELLED,
        "XK16-204-01234",
        date(2024, 3, 6),
    )
    assert licence.signal.product is None and licence.signal.subject.role == "holder"
    assert result.skipped == 1  # 有效 with no change date: still valid, read and no signal
    assert reasons(rejected) == [
        (5, "row 5: names no holder (持证人 and 统一社会信用代码 are empty)"),
        (6, "row 6: unknown status '冻结' (expected 有效/暂停/撤销/注销/过期)"),
    ]


# ---------------------------------------------------------------- accidents and recalls


def test_a_recall_notice_table_field_by_field_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "recalls.csv"
    path.write_text(
        "公告号,企业名称,统一社会信用代码,产品名称,型号,批次,类型,发布日期,召回原因,发布机构,链接\n"
        f"2024-017,宁波甲电器有限公司,{VALID_CODE},电热水壶,HK-1701,2023-11,召回,2024-03-05,温控器失效可能引起干烧,"
        "国家市场监督管理总局缺陷产品召回技术中心,https://www.samr.gov.cn/zljds/\n"
        ",,,,,,事故,2024-03-05,起火,,\n"
        "2024-018,宁波乙电器有限公司,,取暖器,,,事故,2024-13-01,起火,,\n",
        encoding="utf-8",
    )
    [recall], rejected = items("accident", path)
    signal = recall.signal
    assert (signal.kind, signal.subject.name, signal.subject.credit_code, signal.subject.role) == (
        SignalKind.RECALL,
        "宁波甲电器有限公司",
        VALID_CODE,
        "producer",
    )
    assert signal.product is not None
    assert (signal.product.name, signal.product.model, signal.product.batch) == ("电热水壶", "HK-1701", "2023-11")
    assert (signal.detail.reason, signal.detail.bulletin_no, signal.detail.authority) == (
        "温控器失效可能引起干烧",
        "2024-017",
        "国家市场监督管理总局缺陷产品召回技术中心",
    )
    assert (signal.published_on, signal.source_url) == (date(2024, 3, 5), "https://www.samr.gov.cn/zljds/")
    assert reasons(rejected) == [(3, "record 3: names no enterprise"), (4, "record 4: impossible date '2024-13-01'")]
