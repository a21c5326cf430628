"""Feed runs on real PostgreSQL and the broker: idempotent, resumable, nothing from a bad file published."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from certwatch.cli import app as cli
from certwatch.demo import bulletins as synthetic
from services.ingest.feeds import parse_file
from services.ingest.feeds.base import ParseResult
from services.ingest.models import FeedRun, RejectedRow, SignalRecord, messaging
from services.ingest.runs.config import FeedConfig
from services.ingest.runs.service import FeedRunner
from shared.contracts import Envelope, Topic, deterministic_id
from shared.contracts.ingest import SignalReceivedV2
from shared.db.session import Database
from shared.kafka.outbox import Outbox, OutboxRelay
from shared.kafka.producer import Producer
from tests.support.topics import published

pytestmark = pytest.mark.integration


class Killed(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the runner handles it."""


def dying_after(count: int):  # type: ignore[no-untyped-def]
    """A parser that dies halfway through the file, the way a killed process would."""

    def parse(kind: str, path: Path, **kwargs: Any) -> ParseResult:
        result = parse_file(kind, path, **kwargs)
        original = result.source

        def items(res: ParseResult) -> Iterator[Any]:
            for number, item in enumerate(original(res)):
                if number == count:
                    raise Killed
                yield item

        result.source = items
        return result

    return parse


@pytest.fixture
async def ingest(service_settings, platform) -> Any:
    db = Database(service_settings("ingest"))
    producer = Producer(platform, "test")
    await producer.start()
    yield db, Outbox(messaging.outbox, "ingest"), OutboxRelay(db, producer, messaging.outbox, "ingest", 0.05)
    await producer.stop()
    await db.dispose()


async def count(db: Database, model: Any, *where: Any) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def credit_feed(tmp_path: Path, rows: int = 2500) -> tuple[FeedConfig, Path]:
    path = synthetic.write_credit_csv(tmp_path / "list.csv", synthetic.credit_rows(rows))
    return FeedConfig(name="gsxt-abnormal", kind="abnormal_operation", url=str(path)), path


async def test_a_run_killed_halfway_and_restarted_loses_nothing_and_duplicates_nothing(
    ingest, platform, tmp_path
) -> None:
    db, outbox, relay = ingest
    feed, _ = credit_feed(tmp_path)
    with pytest.raises(Killed):
        await FeedRunner(db, outbox, dying_after(1700)).run(feed)
    assert await count(db, SignalRecord) == 1000  # one batch was staged before the kill
    assert await relay.publish_pending() == 0  # and none of it was published

    summary = await FeedRunner(db, outbox, parse_file).run(feed)
    assert summary.resumed and summary.status == "succeeded"
    assert (summary.read, summary.accepted, summary.duplicates, summary.published) == (2500, 2500, 0, 2500)
    while await relay.publish_pending():
        pass
    events = await published(platform, Topic.SIGNAL_RECEIVED_V2)
    ids = [e["payload"]["signal_id"] for e in events]
    assert len(ids) == 2500 and len(set(ids)) == 2500
    for event in events:  # queued by SQL (INSERT … SELECT), yet each is a whole, valid envelope
        envelope = Envelope[SignalReceivedV2].model_validate(event)
        assert envelope.event_id == deterministic_id("signal-received", envelope.payload.signal_id)
        assert (envelope.event_type, envelope.producer) == (Topic.SIGNAL_RECEIVED_V2.event_type, "ingest")
    runs = await published(platform, Topic.FEED_RUN_COMPLETED)
    assert [r["payload"]["status"] for r in runs] == ["succeeded"]


async def test_the_same_file_again_is_all_duplicates_and_publishes_nothing(ingest, tmp_path) -> None:
    db, outbox, _ = ingest
    feed, _ = credit_feed(tmp_path, rows=50)
    first = await FeedRunner(db, outbox, parse_file).run(feed)
    again = await FeedRunner(db, outbox, parse_file).run(feed)
    assert (first.accepted, first.published) == (50, 50)
    assert (again.read, again.accepted, again.duplicates, again.published) == (50, 0, 50, 0)
    assert await count(db, FeedRun, FeedRun.status == "succeeded") == 2


async def test_a_file_level_problem_fails_the_run_with_its_reason_and_publishes_nothing(ingest, tmp_path) -> None:
    db, outbox, relay = ingest
    feed, path = credit_feed(tmp_path, rows=16000)  # more than the 1 MiB the encoding is sniffed from
    with path.open("ab") as handle:
        handle.write(b"\xff\xfe\xfa broken tail\n")  # undecodable after 16,000 good rows: found mid-run
    summary = await FeedRunner(db, outbox, parse_file).run(feed)
    assert summary.status == "failed" and "stops being valid" in (summary.error or "")
    assert await count(db, SignalRecord) == 0
    assert await relay.publish_pending() == 1  # only the feed-run-completed (failed) event
    async with db.sessions() as session:
        run = (await session.scalars(select(FeedRun))).one()
    assert run.status == "failed" and run.error == summary.error


async def test_rejected_rows_are_kept_with_row_reason_and_raw_content(ingest, tmp_path) -> None:
    db, outbox, _ = ingest
    path = synthetic.write_spot_check_xlsx(tmp_path / "bulletin.xlsx")
    feed = FeedConfig(name="samr", kind="spot_check", url=str(path))
    summary = await FeedRunner(db, outbox, parse_file).run(feed)
    assert summary.status == "partial" and (summary.accepted, summary.rejected) == (6, 3)
    async with db.sessions() as session:
        rows = (await session.scalars(select(RejectedRow).order_by(RejectedRow.row_number))).all()
    assert [r.row_number for r in rows] == [4, 10, 11]
    assert "impossible date" in rows[2].reason and "2024-02-30" in (rows[2].raw or "")


async def test_a_snapshot_feed_publishes_only_the_difference_on_its_next_run(ingest, tmp_path) -> None:
    db, outbox, _ = ingest
    path = tmp_path / "snapshot.csv"
    rows = synthetic.credit_rows(400)
    synthetic.write_credit_csv(path, rows)
    feed = FeedConfig(name="gsxt-snapshot", kind="abnormal_operation", url=str(path), snapshot=True)
    first = await FeedRunner(db, outbox, parse_file).run(feed)
    synthetic.write_credit_csv(path, rows[3:] + synthetic.credit_rows(2, start=5000))
    second = await FeedRunner(db, outbox, parse_file).run(feed)
    assert (first.read, first.published) == (400, 400)
    assert (second.read, second.published, second.duplicates) == (399, 5, 397)


def test_cli_ingest_file_prints_the_summary_as_json_on_the_last_line(tmp_path, postgres, database, monkeypatch) -> None:
    monkeypatch.setenv("CERTWATCH_INGEST_DATABASE_URL", postgres.dsn(database, "ingest"))
    path = synthetic.write_food_csv(tmp_path / "food.csv")
    result = CliRunner().invoke(cli, ["ingest", "file", "--kind", "food_spot_check", str(path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert {k: summary[k] for k in ("read", "accepted", "rejected", "duplicates")} == {
        "read": 4,
        "accepted": 4,
        "rejected": 0,
        "duplicates": 0,
    }
    again = CliRunner().invoke(cli, ["ingest", "file", "--kind", "food_spot_check", str(path), "--json"])
    assert json.loads(again.output.strip().splitlines()[-1])["duplicates"] == 4


def test_cli_dry_run_validates_without_a_database(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CERTWATCH_INGEST_DATABASE_URL", "postgresql+asyncpg://nobody:x@127.0.0.1:1/none")
    path = synthetic.write_spot_check_xlsx(tmp_path / "b.xlsx")
    result = CliRunner().invoke(cli, ["ingest", "file", "--kind", "spot_check", str(path), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["rejected"] == 3
    bad = CliRunner().invoke(
        cli,
        [
            "ingest",
            "file",
            "--kind",
            "spot_check",
            str(synthetic.write_empty(tmp_path / "e.csv")),
            "--dry-run",
            "--json",
        ],
    )
    assert bad.exit_code == 1
    assert json.loads(bad.output.strip().splitlines()[-1])["error"] == "the file is empty"
    assert os.environ["CERTWATCH_INGEST_DATABASE_URL"].endswith("/none")


async def test_a_mixed_export_publishes_its_failures_and_counts_its_passing_rows(ingest, platform, tmp_path) -> None:
    """A verdict column: 合格 rows are read and counted (skipped_passing, kept on the run), never published;
    the run publishes v2 signals with each party of a 委托方/受委托方 cell."""
    db, outbox, relay = ingest
    path = tmp_path / "mixed.csv"
    path.write_text(
        "标称生产企业名称,被抽样单位名称,食品名称,生产日期/批号,不合格项目║检验结果║标准值,判定\n"
        "委托方：浙江甲食品有限公司；受委托方：江苏乙食品有限公司,某超市,饼干,2024-03-05,菌落总数║1.2×10⁵CFU/g║≤10⁴CFU/g,不合格\n"
        "浙江丙食品有限公司,某超市,面包,2024-03-06,/,合格\n"
        "浙江丁食品有限公司,某超市,蛋糕,2024-03-07,/,合格\n",
        encoding="utf-8",
    )
    feed = FeedConfig(name="hz-mixed", kind="food_spot_check", url=str(path), publisher="杭州市市场监督管理局")
    summary = await FeedRunner(db, outbox, parse_file).run(feed)
    assert (summary.status, summary.read, summary.accepted, summary.skipped_passing) == ("succeeded", 3, 1, 2)
    async with db.sessions() as session:
        run = (await session.scalars(select(FeedRun))).one()
    assert (run.read, run.accepted, run.skipped_passing) == (3, 1, 2)
    while await relay.publish_pending():
        pass
    [event] = await published(platform, Topic.SIGNAL_RECEIVED_V2)
    signal = Envelope[SignalReceivedV2].model_validate(event).payload
    assert [(p.role_label, p.name) for p in signal.parties] == [
        ("委托方", "浙江甲食品有限公司"),
        ("受委托方", "江苏乙食品有限公司"),
    ]
    assert signal.detail.level is not None and signal.detail.level.value == "city"
