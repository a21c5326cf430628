"""Reading tabular files: CSV in UTF-8 (with or without BOM) or GBK/GB18030, and XLSX with several
sheets and merged cells, with title rows above the header and footnotes below the data."""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from services.ingest.feeds.base import FileRejected

MAX_UNCOMPRESSED = 512 * 1024 * 1024
MAX_RATIO = 200
FULL_LOAD_LIMIT = 20 * 1024 * 1024  # below this, XLSX is loaded fully so merged cells can be filled
# What a notice prints below its table, alone in a row: `特此公告。`, the authority's name, the date.
_SIGN_OFF = re.compile(
    r"^(?:特此(?:公告|通告|通报|公示)[。.]?|[\u4e00-\u9fa5（）()]{2,30}(?:局|委员会|中心|政府)|\d{4}年\d{1,2}月\d{1,2}日)$"
)
_HEADER_NOTE = re.compile(r"（[^（）]*）|\*|※")
_FOOTNOTE = re.compile(r"^(注|备注|说明|附注|注释|\*|※|数据来源|来源)[:：\s]?")


@dataclass(frozen=True)
class Table:
    """One sheet: the title rows above its header, its header, and its data rows."""

    sheet: str
    titles: list[str]
    header: dict[str, int]  # canonical field -> column index
    columns: list[str]  # the header as written
    rows: Iterator[tuple[int, list[object]]]  # (row number in the file, cells)


def sniff(path: Path) -> str:
    """xlsx, json or csv, from the first bytes (file names and extensions lie)."""
    with path.open("rb") as handle:
        head = handle.read(512)
    if not head.strip():
        raise FileRejected("the file is empty")
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRejected("this is a legacy .xls (OLE2) file; save it as .xlsx or CSV")
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if stripped[:1] in (b"[", b"{") else "csv"


def encoding_of(path: Path) -> str:
    """utf-16 (by its byte-order mark: Excel's "Unicode text" export), utf-8-sig or gb18030 (a superset of
    GBK); anything else is refused with the offending byte."""
    with path.open("rb") as handle:
        sample = handle.read(1 << 20)
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
            return encoding
        except UnicodeDecodeError:
            continue
    bad = sample.decode("utf-8", errors="replace").find("\ufffd")
    raise FileRejected(f"the file is neither UTF-8 nor GBK/GB18030 text (undecodable byte near offset {bad})")


def csv_rows(path: Path) -> Iterator[tuple[int, list[object]]]:
    encoding = encoding_of(path)
    with path.open("r", encoding=encoding, newline="") as handle:
        delimiter = _delimiter(handle.read(1 << 16))
        handle.seek(0)
        try:
            for number, row in enumerate(csv.reader(handle, delimiter=delimiter), start=1):
                yield number, row  # type: ignore[misc]  # list[str] is a list of cells, never appended to
        except UnicodeDecodeError as exc:
            raise FileRejected(f"the file stops being valid {encoding} text after row {number}: {exc.reason}") from exc
        except csv.Error as exc:
            raise FileRejected(f"the CSV is malformed: {exc}") from exc


def _delimiter(head: str) -> str:
    """Tab for tab-separated text (Excel's "Unicode text" export), else comma: whichever the header row
    (the fullest of the first lines: title rows above it have few) uses more."""
    lines = [line for line in head.splitlines()[:30] if line.strip()]
    fullest = max(lines, key=lambda line: line.count("\t") + line.count(","), default="")
    return "\t" if fullest.count("\t") > fullest.count(",") else ","


def check_zip(path: Path) -> None:
    """Refuse corrupt archives and zip bombs before openpyxl inflates anything."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise FileRejected(f"the XLSX is truncated or corrupt: {exc}") from exc
    if bad is not None:
        raise FileRejected(f"the XLSX is corrupt: member {bad} fails its checksum")
    total = sum(i.file_size for i in infos)
    packed = max(1, sum(i.compress_size for i in infos))
    if total > MAX_UNCOMPRESSED or total / packed > MAX_RATIO:
        raise FileRejected(
            f"the XLSX would inflate to {total} bytes from {packed} (ratio {total // packed}): refused as a zip bomb"
        )
    if not any(i.filename.startswith("xl/worksheets/") for i in infos):
        raise FileRejected("the zip file is not an XLSX workbook (no worksheets)")


def xlsx_sheets(path: Path) -> Iterator[tuple[str, Iterator[tuple[int, list[object]]]]]:
    import openpyxl

    check_zip(path)
    small = path.stat().st_size <= FULL_LOAD_LIMIT
    try:
        # A file object, not the path: openpyxl refuses names without an .xlsx extension.
        workbook = openpyxl.load_workbook(path.open("rb"), read_only=not small, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken workbooks
        raise FileRejected(f"the XLSX cannot be read: {type(exc).__name__}: {exc}") from exc
    for sheet in workbook.worksheets:
        if small:
            _fill_merged(sheet)
        yield sheet.title, ((n, list(r)) for n, r in enumerate(sheet.iter_rows(values_only=True), start=1))


def _fill_merged(sheet: object) -> None:
    """Give every cell of a merged range the value of its top-left cell."""
    for merged in list(sheet.merged_cells.ranges):  # type: ignore[attr-defined]
        value = sheet.cell(merged.min_row, merged.min_col).value  # type: ignore[attr-defined]
        sheet.unmerge_cells(str(merged))  # type: ignore[attr-defined]
        for row in range(merged.min_row, merged.max_row + 1):
            for col in range(merged.min_col, merged.max_col + 1):
                sheet.cell(row, col).value = value  # type: ignore[attr-defined]


def normalise_header(value: object) -> str:
    cleaned = unicodedata.normalize("NFKC", str(value or ""))
    return re.sub(r"\s+", "", cleaned).replace("(", "（").replace(")", "）")


def find_tables(
    sheets: Iterator[tuple[str, Iterator[tuple[int, list[object]]]]],
    synonyms: dict[str, str],
    required: list[tuple[str, ...]],
    scan: int = 30,
    near_misses: list[tuple[str, int, list[str]]] | None = None,
) -> Iterator[Table]:
    """For each sheet, the first row within `scan` rows that names a required column is the header.

    A sheet with no such row adds its likeliest header (the row with the most columns filled) to
    `near_misses`, so the error can say which columns were found."""
    for name, rows in sheets:
        titles: list[str] = []
        likeliest: tuple[int, list[str]] = (0, [])
        for number, cells in rows:
            header = map_header(cells, synonyms)
            if header and all(any(f in header for f in group) for group in required):
                yield Table(name, titles, header, [str(c or "") for c in cells], _data_rows(rows))
                likeliest = (0, [])
                break
            filled = [str(c).strip() for c in cells if c not in (None, "") and str(c).strip()]
            if len(filled) > len(likeliest[1]):
                likeliest = (number, filled)
            titles.extend(filled)
            if number >= scan:
                break
        if near_misses is not None and likeliest[1]:
            near_misses.append((name, *likeliest))


def map_header(cells: list[object], synonyms: dict[str, str]) -> dict[str, int]:
    header: dict[str, int] = {}
    for index, cell in enumerate(cells):
        field = lookup(normalise_header(cell), synonyms)
        if field and field not in header:
            header[field] = index
    return header


def lookup(name: str, synonyms: dict[str, str]) -> str | None:
    if not name:
        return None
    if name in synonyms:
        return synonyms[name]
    bare = _HEADER_NOTE.sub("", name)  # 标称生产企业（委托方）名称 → 标称生产企业名称
    if bare != name and bare in synonyms:
        return synonyms[bare]
    if "不合格项目" in name and ("检验结果" in name or "║" in name):
        return "failed_combined"
    return None


def _data_rows(rows: Iterator[tuple[int, list[object]]]) -> Iterator[tuple[int, list[object]]]:
    """Data rows, skipping blank rows and the footnotes that follow a table."""
    for number, cells in rows:
        if len(cells) - cells.count("") - cells.count(None) > 3 and (len(cells) < 2 or cells[0] != cells[1]):
            yield number, cells  # the common case, decided without looking at each cell
            continue
        filled = [c for c in cells if c not in (None, "") and str(c).strip()]
        if not filled:
            continue
        if len(filled) > 1 and len({str(c).strip() for c in filled}) == 1:
            continue  # one note merged across the row (its value fills every cell): not a record
        if len(filled) == 1 and (_FOOTNOTE.match(str(filled[0]).strip()) or _SIGN_OFF.match(str(filled[0]).strip())):
            continue
        if len(filled) == 1 and len(str(filled[0])) > 30:
            continue  # a sentence spanning the row: a note, not a record
        yield number, cells


def read_tables(
    path: Path, synonyms: dict[str, str], required: list[tuple[str, ...]], required_names: str
) -> list[Table]:
    """Every table in the file; none at all is a file-level error naming the missing columns."""
    kind = sniff(path)
    sheets = xlsx_sheets(path) if kind == "xlsx" else iter([("csv", csv_rows(path))])
    near: list[tuple[str, int, list[str]]] = []
    tables = list(find_tables(sheets, synonyms, required, near_misses=near)) if kind != "json" else []
    if not tables:
        found = ""
        if near:
            sheet, row, columns = max(near, key=lambda n: len(n[2]))
            shown = ", ".join(c.replace("\n", "") for c in columns[:20])
            found = f"; the likeliest header ({sheet} row {row}) has: {shown}"
        raise FileRejected(f"no header row with the required columns ({required_names}) was found{found}")
    return tables


def cell(cells: list[object], header: dict[str, int], field: str) -> object:
    index = header.get(field)
    return cells[index] if index is not None and index < len(cells) else None


def raw_row(columns: list[str], cells: list[object]) -> dict[str, object]:
    """The row as received, keyed by the column names as written (kept as evidence)."""
    return {(columns[i] if i < len(columns) and columns[i] else f"col{i}"): _plain(v) for i, v in enumerate(cells)}


def _plain(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value


def read_text(path: Path) -> str:
    return io.open(path, encoding=encoding_of(path)).read()  # noqa: UP020 (explicit encoding)
