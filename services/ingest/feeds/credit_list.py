"""The serious-illegal list and the abnormal-operations list: listings, removals, snapshots.

A full snapshot is diffed against the previous one: only new listings, changed entries and
entries that disappeared become signals. The snapshot state is kept compact (a key hash to
a 64-bit content digest in memory; zlib-compressed `key\\tdigest` lines at rest), so a million-row
list never sits whole in memory.
"""

from __future__ import annotations

import hashlib
import json
import operator
import zlib
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

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
from services.ingest.feeds.tables import (
    Limits,
    Table,
    cell,
    cells_by_field,
    json_tables,
    oversized,
    raw_row,
    read_tables,
    sniff,
)
from shared.contracts.ingest import SignalDetail, SignalKind, SignalV2, Subject
from shared.identifiers import check_code, quick_valid

SYNONYMS = {
    **dict.fromkeys(
        [
            "统一社会信用代码/注册号",
            "统一社会信用代码",
            "注册号",
            "信用代码",
            "统一社会信用代码（注册号）",
            "社会信用代码",
            "credit_code",
            "uniscid",
            "unityCreditCode",
            "creditCode",
        ],
        "code",
    ),
    **dict.fromkeys(
        ["企业名称", "名称", "市场主体名称", "当事人名称", "主体名称", "单位名称", "comp_name", "entName", "entname"],
        "name",
    ),
    **dict.fromkeys(
        [
            "列入日期",
            "列入时间",
            "列入严重违法失信名单日期",
            "列入经营异常名录日期",
            "incloud_date",
            "abntime",
            "inDate",
            "indate",
            "AddDate",
        ],
        "listed_on",
    ),
    **dict.fromkeys(
        [
            "列入原因",
            "列入事由",
            "列入严重违法失信名单原因",
            "列入经营异常名录原因",
            "列入严重违法失信企业名单（黑名单）原因",
            "列入严重违法失信企业名单原因",
            "列入经营异常名录原因类型名称",
            "列入经营异常名录原因类型",
            "列入原因类型名称",
            "incloud_reason",
            "speCause_CN",
            "inReason",
            "inreason",
            "AddReason",
        ],
        "reason",
    ),
    **dict.fromkeys(
        [
            "作出决定机关",
            "决定机关",
            "作出决定机关（列入）",
            "列入决定机关",
            "作出列入决定机关",
            "列入决定机关名称",
            "列入作出决定机关",
            "作出决定机关名称",
            "做出决定机关",
            "做出决定机关（列入）",
            "decision_organ",
            "decOrg_CN",
            "inOrgan",
            "inorg",
            "DecisionOffice",
        ],
        "authority",
    ),
    **dict.fromkeys(["移出日期", "移出时间", "remDate", "outDate", "outdate", "RemoveDate"], "removed_on"),
    **dict.fromkeys(
        [
            "移出原因",
            "移出事由",
            "移出经营异常名录原因",
            "移出严重违法失信名单原因",
            "移出原因类型名称",
            "移出经营异常名录原因类型名称",
            "移出严重违法失信企业名单原因",
            "移出严重违法失信企业名单（黑名单）原因",
            "remExcpRes_CN",
            "outReason",
            "outreason",
            "RomoveReason",
            "RemoveReason",
        ],
        "removal_reason",
    ),
    **dict.fromkeys(["列入决定书文号", "决定书文号", "列入文号", "文号"], "decision_no"),
    **dict.fromkeys(["移出决定书文号", "移出文号"], "removal_decision_no"),
    **dict.fromkeys(
        [
            "作出决定机关（移出）",
            "做出决定机关（移出）",
            "移出决定机关",
            "作出移出决定机关",
            "移出决定机关名称",
            "移出作出决定机关",
            "reDecOrg_CN",
            "outOrgan",
            "outorg",
            "RemoveDecisionOffice",
        ],
        "removal_authority",
    ),
    **dict.fromkeys(["住所", "地址", "企业地址"], "address"),
    **dict.fromkeys(["省份", "所在省份", "登记机关所在省"], "province"),
    "序号": "seq",
}
BEIJING = ZoneInfo("Asia/Shanghai")  # the lists' dates are days in China
REQUIRED = [("name", "code"), ("listed_on", "reason", "removed_on")]
REQUIRED_NAMES = "企业名称 or 统一社会信用代码/注册号, and 列入日期/列入原因"
KINDS = {
    "serious_illegal": (SignalKind.SERIOUS_ILLEGAL_LISTED, SignalKind.SERIOUS_ILLEGAL_REMOVED),
    "abnormal_operation": (SignalKind.ABNORMAL_OPERATION_LISTED, SignalKind.ABNORMAL_OPERATION_REMOVED),
}


def load_snapshot(blob: bytes | None) -> dict[int, int]:
    """The previous snapshot as key hash → content digest (hash() is stable within this process)."""
    return {hash(key): int(digest, 16) for key, digest in _snapshot_lines(blob)}


def _snapshot_lines(blob: bytes | None) -> Iterator[tuple[str, str]]:
    """Stream `key\\tdigest` lines out of the compressed blob without inflating it whole."""
    if not blob:
        return
    inflater, pending = zlib.decompressobj(), b""
    for start in range(0, len(blob), 1 << 20):
        pending += inflater.decompress(blob[start : start + (1 << 20)])
        *lines, pending = pending.split(b"\n")
        for line in lines:
            key, _, digest = line.decode().partition("\t")
            yield key, digest
    pending += inflater.flush()
    for line in filter(None, pending.split(b"\n")):
        key, _, digest = line.decode().partition("\t")
        yield key, digest


def parse(
    path: Path,
    *,
    feed: str,
    list_kind: str,
    previous_snapshot: bytes | None = None,
    snapshot: bool = False,
    limits: Limits | None = None,
) -> ParseResult:
    listed_kind, removed_kind = KINDS[list_kind]
    tables = _tables(path, limits)

    def items(result: ParseResult) -> Iterator[Item]:
        if not snapshot:
            for table in tables:
                for number, cells in table.rows:
                    yield oversized(table, number, cells) or _item(
                        table, number, cells, feed, listed_kind, removed_kind
                    )
            return
        yield from _diff(tables, result, previous_snapshot, feed, listed_kind, removed_kind)

    return ParseResult(items)


def _tables(path: Path, limits: Limits | None) -> list[Table]:
    """A list as a table (CSV/XLSX), or as a JSON export of records keyed by the list's own field names."""
    if sniff(path) == "json":
        return json_tables(path, SYNONYMS, REQUIRED, REQUIRED_NAMES)
    return read_tables(path, SYNONYMS, REQUIRED, REQUIRED_NAMES, limits)


def _day(value: object) -> date | None:
    """A list date: as the bulletins write dates, or as the exports do, epoch milliseconds (12–13 digits,
    a number or its digits) read as the day in Beijing time; 8 digits stay YYYYMMDD."""
    digits = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if digits.isdigit() and 12 <= len(digits) <= 13:
        return datetime.fromtimestamp(int(digits) / 1000, BEIJING).date()
    return parse_date(value)


def _diff(
    tables: list[Table],
    result: ParseResult,
    previous_blob: bytes | None,
    feed: str,
    listed: SignalKind,
    removed: SignalKind,
) -> Iterator[Item]:
    """Yield only what changed since the previous snapshot, and write the new one as it goes.

    An unchanged row is recognised from its key and content digest alone, before any signal is built
    or any cell is cleaned: that is what keeps a million-row snapshot fast.
    """
    previous = load_snapshot(previous_blob)
    writer, read = _SnapshotWriter(), 0
    for table in tables:
        for number, cells, key, digest in _Entries(table).scan():
            read += 1
            if rejected := oversized(table, number, cells):  # kept out of the snapshot: rejected again next time
                yield rejected
                continue
            if key is not None:
                writer.add(key, digest)
                if previous.pop(hash(key), None) == digest:
                    result.unchanged += 1
                    continue
            yield _item(table, number, cells, feed, listed, removed)
    yield from _removals(previous_blob, previous, feed, removed)
    result.snapshot, result.rows_read = writer.blob(), read


def snapshot_of(path: Path) -> bytes:
    """The snapshot state of a list file without building any signal: to seed a feed whose history
    starts from a list already handled elsewhere (and for the benchmark's 'yesterday')."""
    writer = _SnapshotWriter()
    for table in _tables(path, None):
        for _, _, key, digest in _Entries(table).scan():
            if key is not None:
                writer.add(key, digest)
    return writer.blob()


class _SnapshotWriter:
    """Compressed `key\\tdigest` lines, written in batches (one compress call per line is slow)."""

    def __init__(self) -> None:
        self._deflater, self._chunks, self._lines = zlib.compressobj(6), [], []  # type: ignore[var-annotated]

    def add(self, key: str, digest: int) -> None:
        self._lines.append(f"{key}\t{digest:016x}\n")
        if len(self._lines) >= 4096:
            self._flush()

    def _flush(self) -> None:
        self._chunks.append(self._deflater.compress("".join(self._lines).encode()))
        self._lines.clear()

    def blob(self) -> bytes:
        self._flush()
        self._chunks.append(self._deflater.flush())
        return b"".join(self._chunks)


class _Entries:
    """A row's snapshot entry: its key and a 64-bit digest of its cells, read straight from the cells.

    The key is the entry's valid code, else its name, else its invalid code; None when the row names
    no enterprise. The digest covers the cells in column-name order, so a reordered file is no change.
    """

    def __init__(self, table: Table) -> None:
        self.table = table
        self.code_at = table.header.get("code")
        order = sorted(range(len(table.columns)), key=lambda i: (table.columns[i], i))
        self.in_order = operator.itemgetter(*order) if len(order) > 1 else None
        self.width = len(table.columns)

    def scan(self) -> Iterator[tuple[int, list[object], str | None, int]]:
        """(row number, cells, key, digest) for every data row; the common case inlined, it runs a million times."""
        at, in_order, width, blake2b, from_bytes = (
            self.code_at,
            self.in_order,
            self.width,
            hashlib.blake2b,
            int.from_bytes,
        )
        for number, cells in self.table.rows:
            raw = cells[at] if at is not None and at < len(cells) else None
            key = (type(raw) is str and quick_valid(raw)) or self._slow_key(raw, cells)
            if in_order is not None and len(cells) == width:
                try:
                    line = "\x1f".join(in_order(cells))
                except TypeError:  # not all text (XLSX)
                    line = self._canonical(cells)
            else:  # a ragged row
                line = self._canonical(cells)
            yield number, cells, key, from_bytes(blake2b(line.encode(), digest_size=8).digest(), "little")

    def _slow_key(self, raw: object, cells: list[object]) -> str | None:
        check = check_code(text(raw))
        if check is not None and check.valid:
            return check.code
        return text(cell(cells, self.table.header, "name")) or (check.code if check else None)

    def _canonical(self, cells: list[object]) -> str:
        return json.dumps(raw_row(self.table.columns, cells), sort_keys=True, ensure_ascii=False, default=str)


def _removals(blob: bytes | None, gone: dict[int, int], feed: str, removed: SignalKind) -> Iterator[Item]:
    """Entries of the previous snapshot that the new one no longer lists: removal signals."""
    if not gone:
        return
    for key, digest in _snapshot_lines(blob):
        if hash(key) in gone:
            raw = {"key": key, "previous_digest": digest, "absent_from_snapshot": True}
            digest_hex = content_hash(raw)
            code = check_code(key)
            subject = Subject(
                name=key,
                credit_code=code.code if code else None,
                credit_code_status=code_status(code),
            )
            signal = SignalV2(
                signal_id=signal_id(feed, removed.value, digest_hex),
                feed=feed,
                kind=removed,
                subject=subject,
                detail=SignalDetail(reason="no longer in the published list (snapshot difference)"),
                raw_record_ref=digest_hex,
            )
            yield ParsedRecord(0, raw, digest_hex, signal)


def _item(table: Table, number: int, cells: list[object], feed: str, listed: SignalKind, removed: SignalKind) -> Item:
    raw = raw_row(table.columns, cells)
    get = cells_by_field(cells, table.header)
    name, code_text = text(get("name")), text(get("code"))
    if name is None and code_text is None:
        return RowRejected(
            number, f"row {number}: names no enterprise (企业名称 and 统一社会信用代码 are empty)", repr(raw)
        )
    try:
        listed_on, removed_on = _day(get("listed_on")), _day(get("removed_on"))
    except BadCell as exc:
        return RowRejected(number, f"row {number}: {exc}", repr(raw))
    code = check_code(code_text)
    digest = content_hash(raw)
    kind = removed if removed_on else listed
    subject = Subject(
        name=name or (code.code if code else ""),
        credit_code=code.code if code else None,
        credit_code_status=code_status(code),
        address=text(get("address")),
        province=text(get("province")),
        role="listed_entity",
    )
    detail = SignalDetail(
        authority=text(get("removal_authority")) if removed_on else text(get("authority")),
        reason=text(get("removal_reason")) if removed_on else text(get("reason")),
        bulletin_no=text(get("removal_decision_no")) or text(get("decision_no"))
        if removed_on
        else text(get("decision_no")),
        listed_on=listed_on,
        removed_on=removed_on,
        note=f"credit code {code.code} is invalid: {code.problem}" if code and not code.valid else None,
    )
    signal = SignalV2.model_construct(
        signal_id=signal_id(feed, kind.value, digest),
        feed=feed,
        kind=kind,
        subject=subject,
        product=None,
        detail=detail,
        published_on=removed_on or listed_on,
        source_url=None,
        raw_record_ref=digest,
    )
    return ParsedRecord(number, raw, digest, signal)
