"""Bad files cost bounded time and memory (issue 12 item 8): a formatted empty tail, a cell of megabytes,
a zip bomb by its directory; text in UTF-16 or GBK is read; an XLSX is streamed, its merged cells filled."""

from __future__ import annotations

import json
import time
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest

from certwatch.demo import bulletins as synthetic
from services.ingest.feeds import FileRejected, Limits, ParsedRecord, RowRejected, parse_file, preflight
from services.ingest.feeds.tables import check_zip


def items(kind: str, path: Path, limits: Limits | None = None) -> tuple[list[ParsedRecord], list[RowRejected]]:
    found = list(parse_file(kind, path, feed="test", limits=limits).items())
    return [i for i in found if isinstance(i, ParsedRecord)], [i for i in found if isinstance(i, RowRejected)]


def bulletin() -> tuple[int, int]:
    """What the national bulletin itself yields: (records, rejected rows)."""
    return 5, 2


@pytest.mark.parametrize("styled", [True, False], ids=["styled-cells", "empty-strings"])
def test_an_empty_formatted_tail_is_not_read_past_the_blank_rows_limit(tmp_path: Path, styled: bool) -> None:
    path = synthetic.write_empty_rows_xlsx(tmp_path / "tail.xlsx", rows=5_000, styled=styled)
    started = time.perf_counter()
    tracemalloc.start()
    records, rejected = items("spot_check", path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert (len(records), len(rejected)) == bulletin()
    assert peak < 40 * 1024 * 1024, f"{peak / 1e6:.0f} MB held to read it"  # rows streamed, never the sheet
    assert time.perf_counter() - started < 15  # 1,000 of its 5,000 empty rows read, the rest never parsed


def test_rows_after_a_short_blank_run_are_read_and_after_a_long_one_are_not(tmp_path: Path) -> None:
    rows = [",".join(synthetic.SPOT_HEADER), ",".join(str(c) for c in synthetic.spot_rows()[0])]
    later = ",".join(str(c) for c in synthetic.spot_rows()[2])
    path = tmp_path / "gaps.csv"
    path.write_text("\n".join([*rows, *[","] * 5, later, *[","] * 20, later.replace("3,", "9,", 1)]) + "\n")
    records, _ = items("spot_check", path, Limits(blank_rows=10))
    assert [r.row for r in records] == [2, 8]  # the row after 20 blank rows is past the tail


def test_a_cell_over_the_limit_rejects_its_row_and_the_rest_goes_through(tmp_path: Path) -> None:
    for path in (
        synthetic.write_huge_cell_csv(tmp_path / "cell.csv", chars=200_000),
        synthetic.write_huge_cell_xlsx(tmp_path / "cell.xlsx", chars=200_000),
    ):
        records, rejected = items("spot_check", path)
        too_long = [r for r in rejected if "cell may hold" in r.reason]
        assert len(too_long) == 1 and "200,000 characters; a cell may hold 32,767" in too_long[0].reason
        assert len(too_long[0].raw) < 5000  # the row is kept as evidence cut short, not whole
        assert len(records) >= 4


def test_a_json_record_with_a_value_over_the_limit_is_rejected(tmp_path: Path) -> None:
    before = items("accident", synthetic.write_accident_json(tmp_path / "before.json"))
    path = tmp_path / "accidents.json"
    records = synthetic.accident_records()
    records[0]["description"] = "x" * 50_000
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    good, rejected = items("accident", path)
    assert (len(good), len(rejected)) == (len(before[0]) - 1, len(before[1]) + 1)
    assert "record 1: description holds 50,000 characters" in rejected[0].reason


def test_the_zip_bomb_limits_are_settings_and_read_from_the_directory_alone(tmp_path: Path) -> None:
    path = synthetic.write_spot_check_xlsx(tmp_path / "bulletin.xlsx")
    inflated = sum(i.file_size for i in zipfile.ZipFile(path).infolist())
    check_zip(path, Limits())  # a bulletin is no bomb
    with pytest.raises(FileRejected, match=r"the limits are 1,000 bytes \(xlsx_inflated_bytes\)"):
        check_zip(path, Limits(inflated_bytes=1000))
    with pytest.raises(FileRejected, match="zip bomb"):
        preflight(path, Limits(inflate_ratio=2))
    assert inflated > 1000


def test_an_xlsx_is_streamed_with_its_merged_cells_filled_and_rows_past_its_stated_dimension(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["标称生产企业名称", "产品名称", "不合格项目"])
    for name in ("浙江宏远电器有限公司", "昆山市凌岳线缆有限公司", "东莞市瑞泽五金制品有限公司"):
        sheet.append([name, "电线电缆", "导体电阻"])
    sheet.merge_cells("B2:B4")  # one product over three rows
    path = tmp_path / "merged.xlsx"
    book.save(path)
    _understate_dimension(path, "A1:C2")  # a writer that got it wrong: read-only mode would stop at row 2
    records, rejected = items("spot_check", path)
    assert not rejected and [r.signal.product.name for r in records if r.signal.product] == ["电线电缆"] * 3


def test_utf16_and_gbk_text_are_read(tmp_path: Path) -> None:
    expected = items("spot_check", synthetic.write_spot_check_csv(tmp_path / "utf8.csv"))
    utf16 = items("spot_check", synthetic.write_utf16_text(tmp_path / "unicode.txt"))
    rows: list[list[object]] = [list(synthetic.SPOT_HEADER), *synthetic.spot_rows()]
    gbk_path = tmp_path / "gbk.csv"
    gbk_path.write_bytes("\n".join(",".join(str(c) for c in r) for r in rows).replace("²", "2").encode("gbk"))
    gbk = items("spot_check", gbk_path)
    for got in (utf16, gbk):
        assert [r.signal.subject.name for r in got[0]] == [r.signal.subject.name for r in expected[0]]
        assert len(got[1]) == len(expected[1])


def _understate_dimension(path: Path, dimension: str) -> None:
    with zipfile.ZipFile(path) as old:
        parts = {i.filename: old.read(i.filename) for i in old.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    start = sheet.index("<dimension ref=")
    parts["xl/worksheets/sheet1.xml"] = (
        sheet[:start] + f'<dimension ref="{dimension}"/>' + sheet[sheet.index(">", start) + 1 :]
    ).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for name, data in parts.items():
            new.writestr(name, data)
