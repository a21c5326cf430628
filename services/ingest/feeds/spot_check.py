"""Spot-check bulletins (product quality and food safety) → spot_check_failure signals, and a row that overturns
an earlier failure (复检合格, 异议成立, 撤销不合格结论) → a spot_check_overturned signal (v3)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from services.ingest.feeds.base import (
    Item,
    ParsedRecord,
    ParseResult,
    PassingRow,
    RowRejected,
    code_status,
    content_hash,
    signal_id,
)
from services.ingest.feeds.cells import BadCell, failed_items, lines, parse_date, split_date, text
from services.ingest.feeds.tables import Limits, Table, cell, cells_by_field, oversized, raw_row, read_tables
from shared.contracts.ingest import (
    CheckLevel,
    Correction,
    CorrectionHow,
    CreditCodeStatus,
    Party,
    ProductV2,
    SignalDetail,
    SignalKind,
    SignalKindV3,
    SignalV2,
    SignalV3,
    Subject,
)
from shared.identifiers import check_code
from shared.parties import split_parties

T = TypeVar("T")

SYNONYMS = {
    **dict.fromkeys(
        [
            f"{a}{b}{c}"
            for a in ("标称", "标识", "标注", "标示", "")
            for b in ("生产企业", "生产单位", "生产者", "生产/经营企业", "生产经营企业")
            for c in ("名称", "")
        ]
        + ["标称生产者（生产企业）名称", "生产企业名称", "企业名称", "生产单位"],
        "producer",
    ),
    **dict.fromkeys(
        [
            f"{a}{b}地址"
            for a in ("标称", "标识", "标注", "标示", "")
            for b in ("生产企业", "生产单位", "生产者", "生产/经营企业", "生产经营企业")
        ],
        "producer_address",
    ),
    **dict.fromkeys(
        ["被抽样单位名称", "被抽样单位", "被抽检单位名称", "被抽检单位", "被抽查单位", "受检单位", "被检单位"],
        "sampled",
    ),
    **dict.fromkeys(["被抽样单位地址", "被抽检单位地址", "被抽查单位地址"], "sampled_address"),
    **dict.fromkeys(
        [
            "被抽样单位所在省份",
            "所在地",
            "所在地（省）",
            "所在省份",
            "所属地市",
            "所在地区",
            "省份",
            "被抽样单位所在地",
        ],
        "place",
    ),
    **dict.fromkeys(["产品名称", "食品名称", "样品名称", "抽查产品", "产品名称（样品名称）"], "product"),
    **dict.fromkeys(["规格型号", "样品规格", "规格", "型号", "规格型号（等级）"], "model"),
    **dict.fromkeys(["商标", "品牌", "注册商标"], "brand"),
    **dict.fromkeys(
        [
            "生产日期/批号",
            "生产/购进日期",
            "生产日期/批货号",
            "生产日期或批号",
            "生产日期（批号）",
            "批号/生产日期",
            "生产日期/批次",
            "生产（购进）日期/批号",
            "生产日期/批号/购进日期",
            "生产日期/购进日期",
            "生产（购进）日期",
        ],
        "batch_or_date",
    ),
    **dict.fromkeys(["生产日期", "生产（加工）日期", "生产日期（加工日期）", "加工/生产日期"], "production_date"),
    **dict.fromkeys(["加工日期", "加工时间"], "processing_date"),
    **dict.fromkeys(["购进日期", "购买日期", "进货日期"], "purchase_date"),
    **dict.fromkeys(["批号", "样品批号", "生产批号", "批次号", "批次"], "batch"),
    **dict.fromkeys(["不合格项目", "不合格情况", "主要不合格项目", "不合格项目名称", "检验项目"], "failed"),
    **dict.fromkeys(["检验结果", "检验值", "实测值", "检测结果", "检验结果（实测值）"], "result"),
    **dict.fromkeys(["标准值", "标准要求", "标准规定值", "标准指标", "标准规定", "限量值"], "standard"),
    **dict.fromkeys(
        ["检验机构", "承检机构", "复查检验机构", "检验检测机构", "检验单位", "检验机构名称", "承检单位", "检测机构"],
        "testing_body",
    ),
    **dict.fromkeys(["公告号", "通报号", "公告编号", "通告号", "通告编号", "公告期号", "期号"], "bulletin_no"),
    **dict.fromkeys(["公告日期", "通报日期", "发布日期", "通告日期", "公布日期"], "bulletin_date"),
    **dict.fromkeys(["抽查级别", "抽查类别", "抽检级别", "抽检层级"], "level"),
    **dict.fromkeys(
        ["任务来源/项目名称", "任务来源", "项目名称", "抽检任务来源", "任务类别", "抽样任务来源"], "task_source"
    ),
    **dict.fromkeys(["公布单位", "发布单位", "发布机关", "公告单位", "通告单位"], "publisher"),
    **dict.fromkeys(
        [
            "判定",
            "结果判定",
            "结论",
            "检验结论",
            "单项结论",
            "判定结论",
            "检验结果判定",
            "综合判定",
            "判定结果",
            "抽检结论",
        ],
        "verdict",
    ),
    **dict.fromkeys(["分类", "食品大类", "产品类别", "食品细类", "产品种类"], "category"),
    **dict.fromkeys(
        [
            "生产企业统一社会信用代码",
            "标称生产企业统一社会信用代码",
            "生产者统一社会信用代码",
            "生产企业社会信用代码",
            "标称生产者统一社会信用代码",
        ],
        "producer_code",
    ),
    **dict.fromkeys(
        ["被抽样单位统一社会信用代码", "被抽检单位统一社会信用代码", "被抽样单位社会信用代码"], "sampled_code"
    ),
    # A correction of an earlier bulletin (issue 15 §3): the re-examination's verdict, the objection's outcome.
    **dict.fromkeys(["复检结论", "复检结果", "复检判定", "复检检验结论", "复检结果判定"], "recheck"),
    **dict.fromkeys(["异议处理结果", "异议审核结果", "异议处理意见", "异议结论", "异议处理情况"], "objection"),
    **dict.fromkeys(
        ["原公告号", "原通告号", "原公告编号", "原通告编号", "原公告期号", "原抽检公告"], "corrects_bulletin"
    ),
    **dict.fromkeys(["复检机构", "复检检验机构", "复检单位"], "recheck_body"),
    **dict.fromkeys(["初检结论", "初检结果", "原检验结论"], "initial_verdict"),
    **dict.fromkeys(["原不合格项目", "初检不合格项目"], "failed"),
    "初检机构": "testing_body",
    "电商平台": "platform",
    "备注": "note",
    **dict.fromkeys(["抽样编号", "抽样单编号", "抽样单号", "抽样/报告编号"], "sample_no"),
    **dict.fromkeys(["检验报告编号", "报告编号", "检验报告号"], "report_no"),
    "序号": "seq",
}
REQUIRED = [("producer", "sampled"), ("product",)]
REQUIRED_NAMES = "标称生产企业名称 or 被抽样单位名称, and 产品名称/食品名称"
LEVELS = {
    "国": CheckLevel.NATIONAL,
    "省": CheckLevel.PROVINCIAL,
    "市": CheckLevel.CITY,
    "县": CheckLevel.COUNTY,
}
_NATIONAL = (
    "国抽",
    "国家级",
    "国家市场监督管理总局",
    "市场监管总局",
    "市场监督管理总局",
    "国家质检总局",
    "国家质量监督检验检疫总局",
    "国家食品药品监督管理总局",
    "国家监督抽查",
    "国家食品安全监督抽检",
)
_MUNICIPALITIES = ("北京市", "上海市", "天津市", "重庆市")
_AUTHORITY_PLACE = re.compile(
    r"([\u4e00-\u9fa5]{2,14}?)(?:市场监督管理局|市场监管局|质量技术监督局|食品药品监督管理局|市场和质量监督管理委员会)"
)
_BULLETIN_NO = re.compile(
    r"([\u4e00-\u9fa5]{2,20}(?:\d{4}年第\d+[号期批]|〔\d{4}〕\d+号|\[\d{4}\]\d+号))|(\d{4}年(?:\d{1,2}月)?第\d+[号期批])"
)
_LOCAL_CHECK = re.compile(r"([省市县区])级?(?:本级)?(?:食品安全)?(?:监督)?抽[检查样]")
_HAS_YEAR = re.compile(r"\d{4}")
_ISSUE = re.compile(r"(?:\d{1,2}月)?第\d+[号期批]")
_TITLE_DATE = re.compile(r"(\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?)")
_AUTHORITY = re.compile(r"([\u4e00-\u9fa5]{2,12}(?:市场监督管理局|市场监管局|市场监管总局|质量技术监督局))")
# A table of passing products, by its title or sheet name: 合格产品信息, 合格样品名单 (never 不合格…).
_PASSING_TABLE = re.compile(r"(?<!不)合格(?:产品|样品|食品|批次|信息|名单|情况)")
_PASSING_WORDS = ("合格", "符合", "通过")
# Letter verdicts of some provinces' templates (浙江: "符合…要求的以字母P表示, 不合格的以字母F表示").
_LETTER_VERDICTS = {"P": True, "PASS": True, "F": False, "FAIL": False}
_VERDICT_WORDS = {"合格", "不合格", "符合", "不符合", "通过", "未通过"}
_FAILING_MARKS = ("不", "未通过", "问题", "超标", "非")
# A notice that overturns an earlier failure, by its title: 复检结果 (合格), 异议处理结果, 撤销…不合格…结论.
# 复查仍不合格 and 维持原检验结论 say the opposite: the failure stands.
_CORRECTION_TITLES = (
    (re.compile(r"撤销.{0,20}不合格.{0,10}(?:检验)?结论"), CorrectionHow.CONCLUSION_REVOKED),
    (re.compile(r"异议(?:处理|审核)?(?:结果|情况)|异议成立"), CorrectionHow.OBJECTION_UPHELD),
    (re.compile(r"复检(?:结果|结论|合格|情况)"), CorrectionHow.RECHECK_PASSED),
)
_FAILURE_STANDS = ("仍不合格", "维持原", "异议不成立", "复检不合格")


def parse(
    path: Path, *, feed: str, food: bool = False, publisher: str | None = None, limits: Limits | None = None
) -> ParseResult:
    kind = SignalKind.FOOD_SPOT_CHECK_FAILURE if food else SignalKind.SPOT_CHECK_FAILURE
    tables = read_tables(path, SYNONYMS, REQUIRED, REQUIRED_NAMES, limits)

    def items(_: ParseResult) -> Iterator[Item]:
        for table in tables:
            meta = title_metadata(table.titles, table.sheet)
            meta.setdefault("authority", publisher)
            meta["publisher_level"] = level_of(publisher)
            for number, cells in table.rows:
                yield oversized(table, number, cells) or record(table, number, cells, meta, feed, kind)

    return ParseResult(items, metadata={"sheets": [t.sheet for t in tables]})


def title_metadata(titles: list[str], sheet: str = "") -> dict[str, object]:
    """Bulletin number, date, authority and level from the title and note rows above the header,
    and whether the table lists passing products (合格产品信息), from those rows or the sheet's name."""
    joined = " ".join(titles)
    meta: dict[str, object] = {"title": joined[:300] or None}
    if match := _BULLETIN_NO.search(joined):
        meta["bulletin_no"] = match[1] or match[2]
    if match := _TITLE_DATE.search(joined):
        meta["bulletin_date"] = match[1]
    if match := _AUTHORITY.search(joined):
        meta["authority"] = match[1]
    meta["level"] = level_of(joined)
    named = f"{sheet} {joined}"
    meta["passing_table"] = bool(_PASSING_TABLE.search(named)) and "不合格" not in named
    meta["correction"] = correction_title(named)
    return meta


def correction_title(title: str) -> CorrectionHow | None:
    """How a notice's title says it overturns an earlier failure, if it does (never 复查仍不合格)."""
    if any(mark in title for mark in _FAILURE_STANDS):
        return None
    return next((how for pattern, how in _CORRECTION_TITLES if pattern.search(title)), None)


def correction_of(get: Callable[[str], object], meta: dict[str, object]) -> Correction | None:
    """The correction a row states: its 复检结论 column says 合格, its 异议处理结果 says the objection was
    upheld, or the notice's title overturns every row it lists; None when the failure stands (复检 不合格,
    异议不成立) or the row says nothing of it."""
    recheck, objection = text(get("recheck")), text(get("objection"))
    how: CorrectionHow | None
    if recheck is not None:
        how = CorrectionHow.RECHECK_PASSED if is_passing(recheck) else None
    elif objection is not None:
        upheld = ("成立" in objection or "撤销" in objection or "采纳" in objection) and not any(
            mark in objection for mark in ("不成立", "不予采纳", "维持")
        )
        how = CorrectionHow.OBJECTION_UPHELD if upheld else None
    else:
        how = meta.get("correction")  # type: ignore[assignment]
    if how is None:
        return None
    evidence = "；".join(
        filter(
            None,
            [
                _labelled("复检结论", get("recheck")),
                _labelled("复检机构", get("recheck_body")),
                _labelled("异议处理结果", get("objection")),
                _labelled("初检结论", get("initial_verdict")),
                _labelled("原公告号", get("corrects_bulletin")),
                _labelled("备注", get("note")),
                None if recheck or objection else _labelled("通告", meta.get("title")),
            ],
        )
    )
    return Correction(how=how, corrects_bulletin_no=text(get("corrects_bulletin")), evidence=evidence[:2000])


def level_of(value: str | None) -> CheckLevel | None:
    """国抽/省抽/市抽/县抽, a 任务来源 such as 国家市场监督管理总局…, or the level of the authority it names."""
    if not value:
        return None
    if any(mark in value for mark in _NATIONAL):
        return CheckLevel.NATIONAL
    for prefix, level in LEVELS.items():
        if f"{prefix}抽" in value or f"{prefix}级" in value:
            return level
    if match := _LOCAL_CHECK.search(value):  # 中山市监督抽检, 区级抽查
        return LEVELS.get(match[1], CheckLevel.COUNTY)
    if match := _AUTHORITY_PLACE.search(value):
        place = match[1].removeprefix("关于")
        if place.endswith(("省", "自治区")) or place.endswith(_MUNICIPALITIES) or place in {"新疆生产建设兵团"}:
            return CheckLevel.PROVINCIAL
        if place.endswith(("县", "区", "旗")):
            return CheckLevel.COUNTY
        if place.endswith(("市", "州", "盟", "地区")):
            return CheckLevel.CITY
    return None


def is_passing(verdict: str) -> bool:
    """合格 / 符合 / 通过 (and their longer forms); 不合格, 不符合, 问题样品 and anything else fail."""
    letter = _LETTER_VERDICTS.get(verdict.strip().upper())
    if letter is not None:
        return letter
    return verdict.startswith(_PASSING_WORDS) and not any(mark in verdict for mark in _FAILING_MARKS)


def record(
    table: Table, number: int, cells: list[object], meta: dict[str, object], feed: str, kind: SignalKind
) -> Item:
    raw = {"sheet": table.sheet, **raw_row(table.columns, cells)}
    correction = correction_of(cells_by_field(cells, table.header), meta)
    if correction is None and _passes(table, cells, meta):
        return PassingRow(number)
    try:
        signal = _signal(table, cells, meta, feed, kind, content_hash(raw), correction)
    except (BadCell, ValueError) as exc:
        return RowRejected(number, f"{table.sheet} row {number}: {_message(exc)}", repr(raw))
    if signal is None:
        return RowRejected(
            number,
            f"{table.sheet} row {number}: names no enterprise (producer and sampled unit are empty)",
            repr(raw),
        )
    return ParsedRecord(number, raw, signal.raw_record_ref or "", signal)


def _passes(table: Table, cells: list[object], meta: dict[str, object]) -> bool:
    """A row judged 合格 by its verdict column (or a result column that holds verdicts), or in a table
    of passing products; with neither, a row of a bulletin is a failure, as 不合格 tables print them."""
    verdict = text(cell(cells, table.header, "verdict"))
    if verdict is None and (result := text(cell(cells, table.header, "result"))) in _VERDICT_WORDS:
        verdict = result
    if verdict is None:
        return bool(meta.get("passing_table"))
    return is_passing(verdict)


def _message(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    return str(exc)


def _signal(
    table: Table,
    cells: list[object],
    meta: dict[str, object],
    feed: str,
    kind: SignalKind,
    digest: str,
    correction: Correction | None = None,
) -> SignalV2 | None:
    get = cells_by_field(cells, table.header)
    parties = _parties(get)
    if not parties:
        return None
    sampled = text(get("sampled"))
    product = _product(get)
    published = _checked("公告日期", parse_date, get("bulletin_date")) or _checked(
        "公告日期", parse_date, meta.get("bulletin_date")
    )
    combined = get("failed_combined")
    level = (
        level_of(text(get("level")))
        or level_of(text(get("task_source")))
        or level_of(text(get("publisher")))
        or meta.get("level")
        or level_of(_str(meta.get("authority")))
        or meta.get("publisher_level")
    )
    detail = SignalDetail(
        failed_items=failed_items(combined, width=_parts_per_item(table))
        if combined
        else failed_items(get("failed"), get("result"), get("standard")),
        authority=text(get("publisher")) or _str(meta.get("authority")),
        bulletin_no=_bulletin_no(text(get("bulletin_no")), _str(meta.get("bulletin_no")), published),
        level=level,
        testing_body=text(get("testing_body")),
        sampled_unit=sampled if parties[0].role != "sampled_unit" else None,
        note=" ".join(
            filter(
                None,
                [
                    text(get("note")),
                    text(get("platform")),
                    _labelled("抽样编号", get("sample_no")),
                    _labelled("检验报告编号", get("report_no")),
                    text(get("task_source")),
                ],
            )
        )
        or None,
    )
    first = parties[0]
    fields: dict[str, Any] = dict(
        feed=feed,
        subject=Subject(**first.model_dump(exclude={"role_label", "origin"})),
        parties=parties,
        product=product,
        detail=detail,
        published_on=published,
        raw_record_ref=digest,
    )
    if correction is not None:  # a correction of an earlier failure: published on v3 (issue 15 §3)
        overturned = SignalKindV3.SPOT_CHECK_OVERTURNED
        return SignalV3(
            signal_id=signal_id(feed, overturned.value, digest), kind=overturned, correction=correction, **fields
        )
    return SignalV2(signal_id=signal_id(feed, kind.value, digest), kind=kind, **fields)


def _parties(get: Callable[[str], object]) -> list[Party]:
    """The producer cell's parties (委托方：X；受委托方：Y, …), or the sampled unit when it names no producer."""
    place = text(get("place"))
    producer_cell = lines(get("producer"))
    if producer_cell is not None:
        split = split_parties(producer_cell, lines(get("producer_address")))
        code, status = _code(get("producer_code")) if len(split) == 1 else (None, CreditCodeStatus.ABSENT)
        return [
            Party(
                name=text(p.name) or p.name,
                address=text(p.address),
                province=place,
                role=p.role or "producer",
                role_label=p.label,
                origin=p.origin,
                credit_code=code,
                credit_code_status=status,
            )
            for p in split
        ]
    sampled = text(get("sampled"))
    if sampled is None:
        return []
    code, status = _code(get("sampled_code"))
    address = text(get("sampled_address"))
    return [
        Party(
            name=sampled,
            address=address,
            province=place,
            role="sampled_unit",
            credit_code=code,
            credit_code_status=status,
        )
    ]


def _code(value: object) -> tuple[str | None, CreditCodeStatus]:
    """A cell's credit code and how a signal carries it (absent when the cell holds none)."""
    check = check_code(text(value))
    return (check.code, code_status(check)) if check is not None else (None, CreditCodeStatus.ABSENT)


def _product(get: Callable[[str], object]) -> ProductV2:
    """Name, brand, model, and the dates: a batch number stays apart from a date; 购进 is a purchase date."""
    production, purchase, batch = None, None, text(get("batch"))
    fields = (
        ("production_date", "生产日期"),
        ("processing_date", "加工日期"),
        ("purchase_date", "购进日期"),
        ("batch_or_date", "生产日期/批号"),
    )
    for field, column in fields:
        value = get(field)
        found, bought, rest = _checked(column, split_date, value)
        if field == "batch_or_date" and batch is None:
            batch = rest if found else text(value)  # `2020.08.28/0816`: the batch beside the date
        if found is None:
            continue
        if bought or field == "purchase_date":
            purchase = purchase or found
        else:
            production = production or found
    return ProductV2(
        name=text(get("product")),
        brand=text(get("brand")),
        model=text(get("model")),
        batch=batch,
        production_date=production,
        purchase_date=purchase,
        category=text(get("category")),
    )


def _bulletin_no(column: str | None, title: str | None, published: date | None) -> str | None:
    """The 通告号/公告号 column, made whole when it leaves out the year (`6月第1期` under a title's
    `2022年6月第1期`, or in a bulletin dated 2022)."""
    if column is None:
        return title
    if _HAS_YEAR.search(column) or not _ISSUE.fullmatch(column):
        return column
    if title and title.endswith(column):
        return title
    return f"{published.year}年{column}" if published else column


def _labelled(label: str, value: object) -> str | None:
    shown = text(value)
    return f"{label}：{shown}" if shown else None


def _parts_per_item(table: Table) -> int:
    """Parts per item in a combined column, from its header (不合格项目║检验结果║标准值 → 3)."""
    header = table.columns[table.header["failed_combined"]]
    parts = len([p for p in re.split(r"[║|丨‖/]", header) if p.strip()])
    return parts if parts >= 2 else 3


def _checked(column: str, read: Callable[[object], T], value: object) -> T:
    """`read(value)`, an impossible date named with its column."""
    try:
        return read(value)
    except BadCell as exc:
        raise BadCell(f"{exc} in {column}") from None


def _str(value: object) -> str | None:
    return str(value) if value else None
