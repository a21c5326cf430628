"""Quality safety accidents and recalls, from a simple structured format (JSON or CSV)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from services.ingest.feeds.base import (
    FileRejected,
    Item,
    ParsedRecord,
    ParseResult,
    RowRejected,
    code_status,
    content_hash,
    signal_id,
)
from services.ingest.feeds.cells import BadCell, days_in, parse_date, text
from services.ingest.feeds.tables import Limits, cell, oversized, raw_row, read_tables, read_text, sniff
from shared.contracts.ingest import ProductV2, SignalDetail, SignalKind, SignalV2, Subject
from shared.identifiers import check_code

FIELDS = {
    **dict.fromkeys(
        [
            "enterprise",
            "企业名称",
            "生产企业",
            "涉事企业",
            "company",
            "生产者名称",
            "生产者",
            "召回企业",
            "生产企业名称",
        ],
        "enterprise",
    ),
    **dict.fromkeys(["credit_code", "统一社会信用代码", "组织机构代码（统一社会信用代码）"], "credit_code"),
    **dict.fromkeys(["address", "地址", "企业地址"], "address"),
    **dict.fromkeys(["province", "省份"], "province"),
    **dict.fromkeys(["product", "产品名称", "产品"], "product"),
    **dict.fromkeys(["brand", "品牌", "商标"], "brand"),
    **dict.fromkeys(["model", "型号", "规格型号", "型号/规格", "型号规格", "规格"], "model"),
    **dict.fromkeys(["batch", "批次", "批号", "生产批号/批次", "生产批号", "批次号"], "batch"),
    **dict.fromkeys(["type", "类型"], "type"),
    **dict.fromkeys(["production_date", "生产日期", "生产起止日期", "制造日期", "生产日期/批号"], "made"),
    **dict.fromkeys(["date", "日期", "发布日期"], "date"),
    **dict.fromkeys(["description", "描述", "事故描述", "召回原因", "缺陷描述", "缺陷情况"], "description"),
    **dict.fromkeys(["authority", "发布机构", "发布单位", "备案机构", "报告机构"], "authority"),
    **dict.fromkeys(["url", "链接", "公告网址链接"], "url"),
    **dict.fromkeys(["notice_no", "公告号", "编号"], "notice_no"),
}
REQUIRED = [("enterprise", "credit_code"), ("type", "description", "product")]
# Columns only a recall notice has: a file with one of them is a list of recalls, whatever its 类型 says.
_RECALL_COLUMN = ("召回", "recall")


def parse(path: Path, *, feed: str, limits: Limits | None = None) -> ParseResult:
    limits = limits or Limits()
    rows = list(_json_rows(path)) if sniff(path) == "json" else None
    tables = None if rows is not None else read_tables(path, FIELDS, REQUIRED, "企业名称 and 类型/产品名称", limits)

    def items(_: ParseResult) -> Iterator[Item]:
        if rows is not None:
            for number, record in rows:
                yield _too_long(number, record, limits.cell_chars) or _item(number, record, feed)
            return
        assert tables is not None
        for table in tables:
            recalls = any(word in column.lower() for column in table.columns for word in _RECALL_COLUMN)
            for number, cells in table.rows:
                if rejected := oversized(table, number, cells):
                    yield rejected
                    continue
                record = {f: cell(cells, table.header, f) for f in table.header}
                if recalls and not text(record.get("type")):
                    record["type"] = "召回"
                yield _item(number, {**record, "_raw": raw_row(table.columns, cells)}, feed)

    return ParseResult(items)


def _json_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Records of a JSON list (or an object with a 'records' list), or of JSON Lines (one object a line)."""
    content = read_text(path)
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise FileRejected(f"the JSON is malformed: {exc}") from exc
        yield from _json_lines(content)
        return
    records = data.get("records", data.get("items")) if isinstance(data, dict) else data
    if not isinstance(records, list):
        raise FileRejected("expected a JSON list of records (or an object with a 'records' list)")
    for number, record in enumerate(records, start=1):
        if isinstance(record, dict):
            yield number, {FIELDS.get(str(k), str(k)): v for k, v in record.items()}
        else:
            yield number, {"_invalid": record}


def _json_lines(content: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """JSON Lines: a line that is not JSON is a bad row (rejected with its line number), not a bad file."""
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, {"_invalid": f"line {number} is not JSON: {exc.msg}", "_raw": {"line": line[:2000]}}
            continue
        if isinstance(record, dict):
            yield number, {FIELDS.get(str(k), str(k)): v for k, v in record.items()}
        else:
            yield number, {"_invalid": record}


def _too_long(number: int, record: dict[str, Any], limit: int) -> RowRejected | None:
    """A JSON record with a value over the per-cell limit, rejected (as a table's row would be)."""
    for key, value in record.items():
        if isinstance(value, str) and len(value) > limit:
            reason = f"record {number}: {key} holds {len(value):,} characters; a cell may hold {limit:,} (cell_chars)"
            return RowRejected(number, reason, json.dumps({key: value[:200] + "…"}, ensure_ascii=False))
    return None


def _item(number: int, record: dict[str, Any], feed: str) -> Item:
    raw = record.pop("_raw", None) or {k: v for k, v in record.items()}
    if "_invalid" in record:
        problem = record["_invalid"] if isinstance(record["_invalid"], str) else "not a JSON object"
        return RowRejected(number, f"record {number}: {problem}", json.dumps(raw, ensure_ascii=False, default=str))
    name, code_text = text(record.get("enterprise")), text(record.get("credit_code"))
    if name is None and code_text is None:
        return RowRejected(
            number, f"record {number}: names no enterprise", json.dumps(raw, ensure_ascii=False, default=str)
        )
    try:
        when = parse_date(record.get("date"))
        made = days_in(record.get("made"))  # one day, or none taken from a range (2022年10月22日至2023年4月3日)
    except BadCell as exc:
        return RowRejected(number, f"record {number}: {exc}", json.dumps(raw, ensure_ascii=False, default=str))
    kind = (
        SignalKind.RECALL
        if "召回" in str(record.get("type") or "") or "recall" in str(record.get("type") or "").lower()
        else SignalKind.QUALITY_ACCIDENT
    )
    code = check_code(code_text)
    digest = content_hash(raw)
    signal = SignalV2(
        signal_id=signal_id(feed, kind.value, digest),
        feed=feed,
        kind=kind,
        subject=Subject(
            name=name or (code.code if code else ""),
            credit_code=code.code if code else None,
            credit_code_status=code_status(code),
            address=text(record.get("address")),
            province=text(record.get("province")),
            role="producer",
        ),
        product=ProductV2(
            name=text(record.get("product")),
            brand=text(record.get("brand")),
            model=text(record.get("model")),
            batch=text(record.get("batch")),
            production_date=made[0] if len(made) == 1 else None,
        ),
        detail=SignalDetail(
            reason=text(record.get("description")),
            authority=text(record.get("authority")),
            bulletin_no=text(record.get("notice_no")),
        ),
        published_on=when,
        source_url=text(record.get("url")),
        raw_record_ref=digest,
    )
    return ParsedRecord(number, raw, digest, signal)
