"""Reading tabular files: CSV in UTF-8 (with or without BOM) or GBK/GB18030, and XLSX with several
sheets and merged cells, with title rows above the header and footnotes below the data."""

from __future__ import annotations

import codecs
import csv
import functools
import io
import logging
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from services.ingest.feeds.base import FileRejected, RowRejected

CSV_FIELD_LIMIT = (
    2**31 - 1
)  # the csv module's own limit (128 KiB) would fail the whole file; `cell_chars` rejects the row
_MERGE_CELL = re.compile(rb"<(?:\w+:)?mergeCell\s+ref=\"([A-Z]+)(\d+):([A-Z]+)(\d+)\"")
# What a notice prints below its table, alone in a row: `特此公告。`, the authority's name, the date.
_SIGN_OFF = re.compile(
    r"^(?:特此(?:公告|通告|通报|公示)[。.]?|[\u4e00-\u9fa5（）()]{2,30}(?:局|委员会|中心|政府)|\d{4}年\d{1,2}月\d{1,2}日)$"
)
log = logging.getLogger(__name__)
_HEADER_NOTE = re.compile(r"（[^（）]*）|\*|※")
_FOOTNOTE = re.compile(r"^(注|备注|说明|附注|注释|\*|※|数据来源|来源)[:：\s]?")


@dataclass(frozen=True)
class Limits:
    """How much one file may hold, so a bad file costs bounded time and memory (IngestSettings sets each)."""

    inflated_bytes: int = 256 * 1024 * 1024  # an XLSX's parts, uncompressed, as its zip directory declares them
    inflate_ratio: int = 200  # uncompressed over compressed: past it, a zip bomb
    cell_chars: int = 32_767  # one cell (Excel's own limit); a longer cell rejects its row
    blank_rows: int = 1_000  # empty rows in a row after which a sheet is read no further


class Oversized(list[object]):
    """A row with a cell over the limit: its cells cut short (the row is rejected, never read as a record)."""

    def __init__(self, cells: list[object], reason: str) -> None:
        super().__init__(cells)
        self.reason = reason


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


def csv_rows(path: Path, limits: Limits) -> Iterator[tuple[int, list[object]]]:
    encoding = encoding_of(path)
    csv.field_size_limit(CSV_FIELD_LIMIT)
    with path.open("r", encoding=encoding, newline="") as handle:
        delimiter = _delimiter(handle.read(1 << 16))
        handle.seek(0)
        number = 0
        try:
            rows = enumerate(csv.reader(handle, delimiter=delimiter), start=1)
            for number, row in _until_blank_run(rows, limits.blank_rows):
                if row and max(map(len, row)) > limits.cell_chars:
                    yield number, _oversized(row, limits.cell_chars)
                else:
                    yield number, list[object](row)  # a row of strings, as a row of cells
        except UnicodeDecodeError as exc:
            raise FileRejected(f"the file stops being valid {encoding} text after row {number}: {exc.reason}") from exc
        except csv.Error as exc:
            raise FileRejected(f"the CSV is malformed: {exc}") from exc


def _oversized(cells: Sequence[object], limit: int) -> Oversized:
    """The row cut short, with the reason it is rejected: the first cell over the limit."""
    column = next(i for i, c in enumerate(cells) if isinstance(c, str) and len(c) > limit)
    size = len(str(cells[column]))
    cut = [c[:200] + "…" if isinstance(c, str) and len(c) > 200 else c for c in cells]
    return Oversized(cut, f"column {column + 1} holds {size:,} characters; a cell may hold {limit:,} (cell_chars)")


Row = TypeVar("Row", bound=Sequence[object])  # a row's cells: a CSV row's strings, a sheet row's values


def _until_blank_run(rows: Iterable[tuple[int, Row]], limit: int) -> Iterator[tuple[int, Row]]:
    """Rows until `limit` empty ones in a row: what follows is the empty tail a spreadsheet program
    formatted (a million rows of it is no table), read cheaply and never held."""
    blank = 0
    for number, cells in rows:
        if any(cells) or not _empty(cells):
            blank = 0
        else:
            blank += 1
            if blank > limit:
                log.warning("stopped reading at row %d: %d empty rows in a row", number, blank - 1)
                return
        yield number, cells


def _empty(cells: Sequence[object]) -> bool:
    return all(c is None or c == "" for c in cells)


def _delimiter(head: str) -> str:
    """Tab for tab-separated text (Excel's "Unicode text" export), else comma: whichever the header row
    (the fullest of the first lines: title rows above it have few) uses more."""
    lines = [line for line in head.splitlines()[:30] if line.strip()]
    fullest = max(lines, key=lambda line: line.count("\t") + line.count(","), default="")
    return "\t" if fullest.count("\t") > fullest.count(",") else ","


def preflight(path: Path, limits: Limits | None = None) -> None:
    """The file as a whole, at a glance and without reading its rows: not empty, no legacy .xls, text
    in an encoding it can be read in, or a sound XLSX that is no zip bomb. Raises FileRejected."""
    if sniff(path) == "xlsx":
        check_zip(path, limits or Limits())
    else:
        encoding_of(path)


def check_zip(path: Path, limits: Limits) -> None:
    """Refuse zip bombs by their directory (the sizes it declares, which zipfile never inflates past),
    then corrupt archives, before openpyxl inflates anything."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            total = sum(i.file_size for i in infos)
            packed = max(1, sum(i.compress_size for i in infos))
            if total > limits.inflated_bytes or total / packed > limits.inflate_ratio:
                raise FileRejected(
                    f"the XLSX would inflate to {total:,} bytes from {packed:,} (ratio {total // packed}); the limits"
                    f" are {limits.inflated_bytes:,} bytes (xlsx_inflated_bytes) and a ratio of {limits.inflate_ratio}:"
                    " refused as a zip bomb"
                )
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise FileRejected(f"the XLSX is truncated or corrupt: {exc}") from exc
    if bad is not None:
        raise FileRejected(f"the XLSX is corrupt: member {bad} fails its checksum")
    if not any(i.filename.startswith("xl/worksheets/") for i in infos):
        raise FileRejected("the zip file is not an XLSX workbook (no worksheets)")


def xlsx_sheets(path: Path, limits: Limits) -> Iterator[tuple[str, Iterator[tuple[int, list[object]]]]]:
    """Each sheet and its rows, streamed (openpyxl's read-only mode: a row at a time, never the whole
    workbook in memory), with merged cells filled from the sheet's own list of them."""
    import openpyxl

    check_zip(path, limits)
    try:
        # A file object, not the path: openpyxl refuses names without an .xlsx extension.
        workbook = openpyxl.load_workbook(path.open("rb"), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken workbooks
        raise FileRejected(f"the XLSX cannot be read: {type(exc).__name__}: {exc}") from exc
    try:
        for sheet in workbook.worksheets:
            yield sheet.title, _sheet_rows(workbook, sheet, limits)
    finally:
        workbook.close()


def _sheet_rows(workbook: Any, sheet: Any, limits: Limits) -> Iterator[tuple[int, list[object]]]:
    merged = _merged_ranges(workbook, sheet)
    sheet.reset_dimensions()  # the rows the sheet holds, not those its <dimension> claims (often wrong)
    rows = enumerate(sheet.iter_rows(values_only=True), start=1)
    for number, values in _with_merged(_until_blank_run(rows, limits.blank_rows), merged):
        if any(isinstance(v, str) and len(v) > limits.cell_chars for v in values):
            yield number, _oversized(values, limits.cell_chars)
        else:
            yield number, values


def _merged_ranges(workbook: Any, sheet: Any) -> list[tuple[int, int, int, int]]:
    """(first row, first column, last row, last column) of each merged range, found in the sheet's XML
    without parsing it (read-only mode does not read them): a scan of the inflated bytes."""
    found: set[tuple[int, int, int, int]] = set()
    tail = b""
    with workbook._archive.open(sheet._worksheet_path) as part:
        while chunk := part.read(1 << 20):
            data = tail + chunk
            if b"mergeCell" not in data:  # most of the sheet: its rows (a search far faster than the pattern's)
                tail = data[-200:]
                continue
            for first_col, first_row, last_col, last_row in _MERGE_CELL.findall(data):
                found.add((int(first_row), _column(first_col), int(last_row), _column(last_col)))
            tail = data[-200:]  # a tag cut by the chunk's end is found again with the next
    return sorted(found)


def _column(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _with_merged(
    rows: Iterator[tuple[int, Sequence[object]]], ranges: list[tuple[int, int, int, int]]
) -> Iterator[tuple[int, list[object]]]:
    """Give every cell of a merged range the value of its top-left cell, as the rows stream by."""
    pending = iter(ranges)
    upcoming = next(pending, None)
    active: list[tuple[tuple[int, int, int, int], object]] = []
    for number, values in rows:
        cells = list(values)
        while upcoming is not None and upcoming[0] <= number:
            first_col = upcoming[1]
            active.append(
                (upcoming, cells[first_col - 1] if upcoming[0] == number and first_col <= len(cells) else None)
            )
            upcoming = next(pending, None)
        if active:
            active = [(span, value) for span, value in active if span[2] >= number]
            for (_, first_col, _, last_col), value in active:
                if len(cells) < last_col:
                    cells.extend([None] * (last_col - len(cells)))
                cells[first_col - 1 : last_col] = [value] * (last_col - first_col + 1)
        yield number, cells


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
    path: Path,
    synonyms: dict[str, str],
    required: list[tuple[str, ...]],
    required_names: str,
    limits: Limits | None = None,
) -> list[Table]:
    """Every table in the file; none at all is a file-level error naming the missing columns."""
    kind, limits = sniff(path), limits or Limits()
    sheets = xlsx_sheets(path, limits) if kind == "xlsx" else iter([("csv", csv_rows(path, limits))])
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


def oversized(table: Table, number: int, cells: list[object]) -> RowRejected | None:
    """A row with a cell over the limit, rejected with its reason (parsers check each row with this)."""
    if not isinstance(cells, Oversized):
        return None
    return RowRejected(number, f"{table.sheet} row {number}: {cells.reason}", repr(raw_row(table.columns, cells)))


def cell(cells: list[object], header: dict[str, int], field: str) -> object:
    index = header.get(field)
    return cells[index] if index is not None and index < len(cells) else None


def cells_by_field(cells: list[object], header: dict[str, int]) -> Callable[[str], object]:
    """A row's cell by field name: None where the table has no such column."""
    return functools.partial(cell, cells, header)


def raw_row(columns: list[str], cells: list[object]) -> dict[str, object]:
    """The row as received, keyed by the column names as written (kept as evidence)."""
    return {(columns[i] if i < len(columns) and columns[i] else f"col{i}"): _plain(v) for i, v in enumerate(cells)}


def _plain(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value


def read_text(path: Path) -> str:
    return io.open(path, encoding=encoding_of(path)).read()  # noqa: UP020 (explicit encoding)


_RECORD_LISTS = ("records", "items", "data", "list", "result", "rows", "content")


def json_tables(
    path: Path, synonyms: dict[str, str], required: list[tuple[str, ...]], required_names: str
) -> list[Table]:
    """A JSON export of records (a list, or an object holding the list under records/items/data/list/result/
    rows/content) read as one table: the keys are its header, in the order they first appear. A record that
    is not an object is a row of its own (rejected by the parser for naming nothing)."""
    import json

    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise FileRejected(f"the JSON is malformed: {exc}") from exc
    if isinstance(data, dict):
        data = next((data[k] for k in _RECORD_LISTS if isinstance(data.get(k), list)), None)
    if not isinstance(data, list):
        raise FileRejected("expected a JSON list of records (or an object with a 'records'/'data' list)")
    columns: list[str] = []
    for record in data:
        if isinstance(record, dict):
            columns.extend(str(k) for k in record if str(k) not in columns)
    header = map_header(list[object](columns), synonyms)
    if not all(any(f in header for f in group) for group in required):
        shown = ", ".join(columns[:20])
        raise FileRejected(f"no records with the required fields ({required_names}) were found; the keys are: {shown}")
    rows = [
        (number, [record.get(c) for c in columns] if isinstance(record, dict) else [record])
        for number, record in enumerate(data, start=1)
    ]
    return [Table("json", [], header, columns, iter(rows))]
