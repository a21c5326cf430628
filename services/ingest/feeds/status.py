"""Licence (工业产品生产许可证) and compulsory-certificate (CCC) status changes → licence_*/ccc_* signals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from services.ingest.feeds.base import (
    Item,
    ParsedRecord,
    ParseResult,
    RowRejected,
    code_status,
    content_hash,
    signal_id,
)
from services.ingest.feeds.cells import BadCell, parse_date, text
from services.ingest.feeds.tables import Limits, Table, cells_by_field, oversized, raw_row, read_tables
from shared.contracts.ingest import ProductV2, SignalDetail, SignalKind, SignalV2, Subject
from shared.identifiers import check_code

SYNONYMS = {
    **dict.fromkeys(["证书编号", "许可证编号", "证书号", "许可证号", "证书/许可证编号"], "number"),
    **dict.fromkeys(["证书类型", "类型", "证书种类"], "type"),
    **dict.fromkeys(
        [
            "持证人",
            "持证企业",
            "获证组织",
            "企业名称",
            "获证组织/认证委托人",
            "认证委托人",
            "生产企业",
            "持证人名称",
        ],
        "holder",
    ),
    **dict.fromkeys(["统一社会信用代码", "统一社会信用代码/注册号", "信用代码"], "code"),
    **dict.fromkeys(["证书状态", "状态", "许可证状态"], "status"),
    **dict.fromkeys(["状态变更日期", "变更日期", "日期", "状态日期"], "date"),
    **dict.fromkeys(["状态原因", "原因", "变更原因"], "reason"),
    **dict.fromkeys(["产品/认证范围", "产品名称", "产品", "认证范围"], "product"),
    **dict.fromkeys(["发证机关", "认证机构", "发证机构"], "authority"),
    "序号": "seq",
}
REQUIRED = [("number",), ("holder", "code"), ("status",)]
REQUIRED_NAMES = "证书编号/许可证编号, 持证人 or 统一社会信用代码, and 证书状态"
STATUS_WORDS = {
    "暂停": "suspended",
    "撤销": "revoked",
    "注销": "cancelled",
    "过期": "expired",
    "有效": "restored",
    "恢复": "restored",
    "失效": "expired",
    "吊销": "revoked",
}
CCC = {
    "suspended": SignalKind.CCC_SUSPENDED,
    "revoked": SignalKind.CCC_WITHDRAWN,
    "cancelled": SignalKind.CCC_CANCELLED,
    "expired": SignalKind.CCC_EXPIRED,
    "restored": SignalKind.CCC_RESTORED,
}
LICENCE = {
    "suspended": SignalKind.LICENCE_SUSPENDED,
    "revoked": SignalKind.LICENCE_REVOKED,
    "cancelled": SignalKind.LICENCE_CANCELLED,
    "expired": SignalKind.LICENCE_EXPIRED,
    "restored": SignalKind.LICENCE_RESTORED,
}


def parse(path: Path, *, feed: str, limits: Limits | None = None) -> ParseResult:
    tables = read_tables(path, SYNONYMS, REQUIRED, REQUIRED_NAMES, limits)

    def items(result: ParseResult) -> Iterator[Item]:
        for table in tables:
            for number, cells in table.rows:
                item = oversized(table, number, cells) or _item(table, number, cells, feed)
                if item is None:
                    result.skipped += 1  # a certificate still valid, with no change date: not a signal
                else:
                    yield item

    return ParseResult(items)


def kind_of(certificate_type: str | None, number: str, status: str) -> SignalKind:
    is_ccc = (certificate_type or "").upper().startswith("CCC") or "强制" in (certificate_type or "")
    is_ccc = is_ccc or (not certificate_type and not number.upper().startswith("XK"))
    return (CCC if is_ccc else LICENCE)[status]


def _item(table: Table, number: int, cells: list[object], feed: str) -> Item | None:
    raw = raw_row(table.columns, cells)
    get = cells_by_field(cells, table.header)
    certificate, holder, code_text = text(get("number")), text(get("holder")), text(get("code"))
    status_word = text(get("status"))
    if holder is None and code_text is None:
        return RowRejected(number, f"row {number}: names no holder (持证人 and 统一社会信用代码 are empty)", repr(raw))
    if certificate is None:
        return RowRejected(number, f"row {number}: no certificate or licence number", repr(raw))
    status = next((v for k, v in STATUS_WORDS.items() if status_word and k in status_word), None)
    if status is None:
        return RowRejected(
            number,
            f"row {number}: unknown status {status_word!r} (expected 有效/暂停/撤销/注销/过期)",
            repr(raw),
        )
    try:
        changed_on = parse_date(get("date"))
    except BadCell as exc:
        return RowRejected(number, f"row {number}: {exc} in 状态变更日期", repr(raw))
    if status == "restored" and changed_on is None:
        return None
    code = check_code(code_text)
    digest = content_hash(raw)
    kind = kind_of(text(get("type")), certificate, status)
    signal = SignalV2(
        signal_id=signal_id(feed, kind.value, digest),
        feed=feed,
        kind=kind,
        subject=Subject(
            name=holder or (code.code if code else certificate),
            credit_code=code.code if code else None,
            credit_code_status=code_status(code),
            role="holder",
        ),
        product=ProductV2(name=text(get("product"))) if text(get("product")) else None,
        detail=SignalDetail(
            certificate_no=certificate,
            status=status_word,
            reason=text(get("reason")),
            authority=text(get("authority")),
        ),
        published_on=changed_on,
        raw_record_ref=digest,
    )
    return ParsedRecord(number, raw, digest, signal)
