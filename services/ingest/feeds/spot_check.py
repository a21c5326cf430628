"""Spot-check bulletins (product quality and food safety) → spot_check_failure signals."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from services.ingest.feeds.base import Item, ParsedRecord, ParseResult, RowRejected, content_hash, signal_id
from services.ingest.feeds.cells import BadCell, failed_items, parse_date, text
from services.ingest.feeds.tables import Table, cell, raw_row, read_tables
from shared.contracts.ingest import CheckLevel, Product, Signal, SignalDetail, SignalKind, Subject

SYNONYMS = {
    **dict.fromkeys(
        [
            f"{a}{b}{c}"
            for a in ("标称", "标识", "标注", "")
            for b in ("生产企业", "生产单位", "生产者")
            for c in ("名称", "")
        ]
        + ["标称生产者（生产企业）名称", "生产企业名称", "企业名称", "生产单位"],
        "producer",
    ),
    **dict.fromkeys(
        [f"{a}{b}地址" for a in ("标称", "标识", "标注", "") for b in ("生产企业", "生产单位", "生产者")],
        "producer_address",
    ),
    **dict.fromkeys(
        ["被抽样单位名称", "被抽样单位", "被抽检单位名称", "被抽检单位", "被抽查单位", "受检单位"], "sampled"
    ),
    **dict.fromkeys(["被抽样单位地址", "被抽检单位地址"], "sampled_address"),
    **dict.fromkeys(
        ["被抽样单位所在省份", "所在地", "所在地（省）", "所在省份", "所属地市", "所在地区", "省份"], "place"
    ),
    **dict.fromkeys(["产品名称", "食品名称", "样品名称", "抽查产品"], "product"),
    **dict.fromkeys(["规格型号", "样品规格", "规格", "型号"], "model"),
    **dict.fromkeys(["商标", "品牌"], "brand"),
    **dict.fromkeys(
        ["生产日期/批号", "批号", "生产/购进日期", "生产日期", "生产日期/批货号", "生产日期或批号"], "batch"
    ),
    **dict.fromkeys(["不合格项目", "不合格情况", "主要不合格项目"], "failed"),
    "检验结果": "result",
    **dict.fromkeys(["标准值", "标准要求", "标准规定值"], "standard"),
    **dict.fromkeys(["检验机构", "承检机构", "复查检验机构", "检验检测机构"], "testing_body"),
    **dict.fromkeys(["公告号", "通报号", "公告编号"], "bulletin_no"),
    **dict.fromkeys(["公告日期", "通报日期", "发布日期"], "bulletin_date"),
    **dict.fromkeys(["抽查级别", "抽查类别", "抽检级别"], "level"),
    **dict.fromkeys(["分类", "食品大类", "产品类别"], "category"),
    "电商平台": "platform",
    "备注": "note",
    "抽样编号": "sample_no",
    "任务来源/项目名称": "task_source",
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
_BULLETIN_NO = re.compile(r"([\u4e00-\u9fa5]{2,20}(?:\d{4}年第\d+[号期批]|〔\d{4}〕\d+号|\[\d{4}\]\d+号))")
_TITLE_DATE = re.compile(r"(\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?)")
_AUTHORITY = re.compile(r"([\u4e00-\u9fa5]{2,12}(?:市场监督管理局|市场监管局|市场监管总局|质量技术监督局))")


def parse(path: Path, *, feed: str, food: bool = False) -> ParseResult:
    kind = SignalKind.FOOD_SPOT_CHECK_FAILURE if food else SignalKind.SPOT_CHECK_FAILURE
    tables = read_tables(path, SYNONYMS, REQUIRED, REQUIRED_NAMES)

    def items(_: ParseResult) -> Iterator[Item]:
        for table in tables:
            meta = title_metadata(table.titles)
            for number, cells in table.rows:
                yield record(table, number, cells, meta, feed, kind)

    return ParseResult(items, metadata={"sheets": [t.sheet for t in tables]})


def title_metadata(titles: list[str]) -> dict[str, object]:
    """Bulletin number, date, authority and level from the title and note rows above the header."""
    joined = " ".join(titles)
    meta: dict[str, object] = {}
    if match := _BULLETIN_NO.search(joined):
        meta["bulletin_no"] = match[1]
    if match := _TITLE_DATE.search(joined):
        meta["bulletin_date"] = match[1]
    if match := _AUTHORITY.search(joined):
        meta["authority"] = match[1]
    meta["level"] = level_of(joined)
    return meta


def level_of(value: str | None) -> CheckLevel | None:
    if not value:
        return None
    if "国家" in value or "国抽" in value or "总局" in value:
        return CheckLevel.NATIONAL
    for prefix, level in LEVELS.items():
        if f"{prefix}抽" in value or f"{prefix}级" in value:
            return level
    return None


def record(
    table: Table, number: int, cells: list[object], meta: dict[str, object], feed: str, kind: SignalKind
) -> Item:
    raw = {"sheet": table.sheet, **raw_row(table.columns, cells)}
    try:
        signal = _signal(table, cells, meta, feed, kind, content_hash(raw))
    except (BadCell, ValueError) as exc:
        return RowRejected(number, f"{table.sheet} row {number}: {_message(exc)}", repr(raw))
    if signal is None:
        return RowRejected(
            number,
            f"{table.sheet} row {number}: names no enterprise (producer and sampled unit are empty)",
            repr(raw),
        )
    return ParsedRecord(number, raw, signal.raw_record_ref or "", signal)


def _message(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    return str(exc)


def _signal(
    table: Table, cells: list[object], meta: dict[str, object], feed: str, kind: SignalKind, digest: str
) -> Signal | None:
    get = lambda field: cell(cells, table.header, field)  # noqa: E731
    producer, sampled = text(get("producer")), text(get("sampled"))
    subject_name = producer or sampled
    if subject_name is None:
        return None
    batch = text(get("batch"))
    production = _checked_date(get("batch"), "生产日期/批号")
    published = _checked_date(get("bulletin_date") or meta.get("bulletin_date"), "公告日期")
    place = text(get("place"))
    subject = Subject(
        name=subject_name,
        address=text(get("producer_address")) if producer else text(get("sampled_address")),
        province=place,
        role="producer" if producer else "sampled_unit",
    )
    product = Product(
        name=text(get("product")),
        brand=text(get("brand")),
        model=text(get("model")),
        batch=batch,
        production_date=production,
        category=text(get("category")),
    )
    combined = get("failed_combined")
    detail = SignalDetail(
        failed_items=failed_items(combined)
        if combined
        else failed_items(get("failed"), get("result"), get("standard")),
        authority=_str(meta.get("authority")),
        bulletin_no=text(get("bulletin_no")) or _str(meta.get("bulletin_no")),
        level=level_of(text(get("level"))) or meta.get("level"),
        testing_body=text(get("testing_body")),
        sampled_unit=sampled if producer else None,
        note=" ".join(filter(None, [text(get("note")), text(get("platform")), text(get("sample_no"))])) or None,
    )
    return Signal(
        signal_id=signal_id(feed, kind.value, digest),
        feed=feed,
        kind=kind,
        subject=subject,
        product=product,
        detail=detail,
        published_on=published,
        raw_record_ref=digest,
    )


def _checked_date(value: object, column: str) -> date | None:
    try:
        return parse_date(value)
    except BadCell as exc:
        raise BadCell(f"{exc} in {column}") from None


def _str(value: object) -> str | None:
    return str(value) if value else None
