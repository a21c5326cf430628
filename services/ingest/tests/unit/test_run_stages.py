"""Each stage of a feed run on its own, without a database: parse (sort, count, chunks), the rows the
accept stage writes, the run and event the record stage makes, and fetching a local file."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.ingest.feeds import FileRejected, parse_file
from services.ingest.feeds.base import Item, ParsedRecord, ParseResult, PassingRow, RowRejected
from services.ingest.runs import accept, parse, record
from services.ingest.runs.config import FeedConfig
from services.ingest.runs.fetch import FetchError, FetchPolicy, fetch
from services.ingest.runs.schemas import RunResult
from shared.contracts.ingest import FeedRunCompleted, FeedRunStatus, SignalKind, SignalV2, Subject
from shared.errors import InvalidInput

CORPUS = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "bulletins"
FEED = FeedConfig(
    name="xiangtan", kind="food_spot_check", url="https://example.org/b.xlsx", publisher="湘潭市市场监督管理局"
)
STARTED = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


def parsed(name: str, row: int = 1, kind: SignalKind = SignalKind.SPOT_CHECK_FAILURE) -> ParsedRecord:
    digest = hashlib.sha256(name.encode()).hexdigest()
    signal = SignalV2(
        signal_id=uuid.uuid5(uuid.NAMESPACE_URL, name), feed="xiangtan", kind=kind, subject=Subject(name=name)
    )
    return ParsedRecord(row, {"企业名称": name}, digest, signal)


def running() -> RunResult:
    return record.result(FEED, uuid.uuid4(), STARTED)


# ---------------------------------------------------------------- parse


def test_each_item_becomes_a_signal_a_duplicate_a_rejected_or_a_passing_row() -> None:
    first, again = parsed("甲公司", 1), parsed("甲公司", 2)
    bad, passing = RowRejected(3, "row 3: names no enterprise", "{}"), PassingRow(4)
    part = parse.sort([first, again, bad, passing], set())
    assert [outcome for _, outcome in part.outcomes] == ["signal", "duplicate", "rejected", "passing"]
    assert (part.signals, part.rejected, part.duplicates, part.passing) == ([first], [bad], 1, 1)


def test_a_signal_seen_in_an_earlier_chunk_is_a_duplicate() -> None:
    seen: set[uuid.UUID] = set()
    parse.sort([parsed("甲公司")], seen)
    assert [outcome for _, outcome in parse.sort([parsed("甲公司", 9)], seen).outcomes] == ["duplicate"]


def test_counting_a_chunk_adds_to_the_run_and_lists_its_rejections_up_to_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parse, "SHOWN_REJECTIONS", 2)
    run = running()
    rejected: list[Item] = [RowRejected(n, f"row {n}: no date", "") for n in (5, 6, 7)]
    parse.count(run, parse.sort([parsed("甲公司"), parsed("甲公司"), PassingRow(4), *rejected], set()))
    assert (run.read, run.rejected, run.duplicates, run.skipped_passing, run.accepted) == (6, 3, 1, 1, 0)
    assert [(r.row, r.reason) for r in run.rejections] == [(5, "row 5: no date"), (6, "row 6: no date")]


def test_a_snapshot_parsers_unchanged_rows_are_read_and_duplicates() -> None:
    run = running()
    run.read, run.duplicates = 3, 0  # the differences it yielded
    result = ParseResult(lambda _: iter(()), rows_read=10, unchanged=7, skipped=2)
    parse.count_snapshot(run, result)
    assert (run.read, run.duplicates) == (12, 7)
    parse.count_snapshot(run, [parsed("甲公司")])  # a plain iterable counts nothing of its own
    assert (run.read, run.duplicates) == (12, 7)
    assert parse.snapshot_of(ParseResult(lambda _: iter(()), snapshot=b"zz")) == b"zz"
    assert parse.snapshot_of([]) is None


async def test_items_come_a_chunk_at_a_time_from_a_parse_result_or_an_iterable() -> None:
    items: list[Item] = [PassingRow(n) for n in range(1, 1202)]

    def source(_: ParseResult) -> Iterator[Item]:
        return iter(items)

    sizes = [len(chunk) async for chunk in parse.chunks(ParseResult(source))]
    assert sizes == [parse.CHUNK, parse.CHUNK, 1201 - 2 * parse.CHUNK]
    assert [len(chunk) async for chunk in parse.chunks(items[:3])] == [3]


async def test_the_parse_stage_on_a_real_bulletin_counts_its_rows() -> None:
    result = await parse.parse(parse_file, FEED, CORPUS / "01_xiangtan-city_food_failed.xlsx", None)
    run = running()
    async for chunk in parse.chunks(result):
        parse.count(run, parse.sort(chunk, set()))
    assert (run.read, run.rejected, run.duplicates, run.skipped_passing) == (4, 0, 0, 0)


async def test_the_parse_stage_on_a_bulletin_of_passing_rows_counts_them_passing() -> None:
    feed = FeedConfig(name="huzhou", kind="spot_check", url="file:06.xlsx", publisher="湖州市质量技术监督局")
    result = await parse.parse(parse_file, feed, CORPUS / "06_huzhou-city_product_passing.xlsx", None)
    run = record.result(feed, uuid.uuid4(), STARTED)
    async for chunk in parse.chunks(result):
        part = parse.sort(chunk, set())
        parse.count(run, part)
        assert part.signals == []
    assert (run.read, run.skipped_passing) == (6, 6)


def test_a_file_problem_reads_in_the_parsers_words_and_anything_else_names_its_type() -> None:
    assert parse.reason(FileRejected("the file is empty")) == "the file is empty"
    assert parse.reason(InvalidInput("no header row")) == "no header row"
    assert parse.reason(KeyError("x")) == "KeyError: 'x'"


# ---------------------------------------------------------------- accept (the rows it writes)


def test_raw_records_are_kept_once_per_content_hash() -> None:
    run_id = uuid.uuid4()
    rows = accept.raw_rows(FEED, run_id, [parsed("甲公司", 1), parsed("甲公司", 2), parsed("乙公司", 3)])
    assert [(r["content"], r["feed"], r["kind"], r["run_id"]) for r in rows] == [
        ({"企业名称": "甲公司"}, "xiangtan", "food_spot_check", run_id),
        ({"企业名称": "乙公司"}, "xiangtan", "food_spot_check", run_id),
    ]


def test_signals_are_staged_unreleased_keyed_and_with_the_payload_as_published() -> None:
    run_id, record_ = uuid.uuid4(), parsed("浙江 宏远  电器有限公司", kind=SignalKind.RECALL)
    [row] = accept.signal_rows(FEED, run_id, [record_])
    assert row["released"] is False and row["run_id"] == run_id
    assert (row["signal_id"], row["kind"], row["raw_record_ref"]) == (
        record_.signal.signal_id,
        "recall",
        record_.content_hash,
    )
    assert row["subject_key"] == "浙江宏远电器有限公司"  # no credit code: the name without its spaces
    assert row["payload"] == record_.signal.model_dump(mode="json")


def test_a_rejected_row_keeps_where_it_came_from_and_why_with_its_raw_content_cut() -> None:
    run_id = uuid.uuid4()
    [row] = accept.rejected_rows(FEED, run_id, [RowRejected(7, "row 7: impossible date", "x" * 5000)])
    assert {k: v for k, v in row.items() if k != "raw"} == {
        "run_id": run_id,
        "feed": "xiangtan",
        "source": "https://example.org/b.xlsx",
        "row_number": 7,
        "reason": "row 7: impossible date",
    }
    assert row["raw"] == "x" * accept.RAW_CHARS


# ---------------------------------------------------------------- record (the run and its event)


def test_a_run_starts_running_with_nothing_counted_and_its_row_says_the_same() -> None:
    run = running()
    assert (run.status, run.finished_at, run.read, run.accepted, run.rejections) == ("running", None, 0, 0, [])
    row = record.new_run(run, "ab" * 32)
    assert (row.run_id, row.feed, row.kind, row.source, row.status) == (
        run.run_id,
        "xiangtan",
        "food_spot_check",
        "https://example.org/b.xlsx",
        "running",
    )
    assert (row.started_at, row.source_sha256, row.read, row.published, row.skipped_passing) == (
        STARTED,
        "ab" * 32,
        0,
        0,
        0,
    )


def test_the_event_a_run_ends_with_carries_the_runs_own_fields() -> None:
    run = running()
    run.status, run.finished_at, run.read, run.accepted, run.rejected = "partial", STARTED, 9, 7, 2
    run.skipped_passing = 4  # the run's own; the wire model has no such field
    event = record.completed(run)
    assert event == FeedRunCompleted(
        run_id=run.run_id,
        feed="xiangtan",
        kind="food_spot_check",
        status=FeedRunStatus.PARTIAL,
        started_at=STARTED,
        finished_at=STARTED,
        read=9,
        accepted=7,
        rejected=2,
    )


def test_a_run_still_running_cannot_go_on_the_wire() -> None:
    run = running()
    run.finished_at = STARTED
    with pytest.raises(ValidationError, match="status"):
        record.completed(run)


# ---------------------------------------------------------------- fetch


async def test_a_local_file_is_copied_with_its_size_and_hash(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"a,b\n1,2\n")
    got = await fetch(str(source), tmp_path / "out", FetchPolicy(max_bytes=100))
    assert (got.path, got.not_modified, got.size) == (tmp_path / "out", False, 8)
    assert got.sha256 == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert (tmp_path / "out").read_bytes() == b"a,b\n1,2\n"


async def test_a_file_over_the_limit_or_missing_is_a_fetch_error(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"x" * 101)
    with pytest.raises(FetchError, match="101 bytes is over the limit of 100"):
        await fetch(f"file://{source}", tmp_path / "out", FetchPolicy(max_bytes=100))
    with pytest.raises(FetchError, match="no such file"):
        await fetch(str(tmp_path / "gone.csv"), tmp_path / "out", FetchPolicy(max_bytes=100))
    with pytest.raises(InvalidInput, match="unsupported feed URL scheme 'ftp'"):
        await fetch("ftp://example.org/b.csv", tmp_path / "out", FetchPolicy(max_bytes=100))
