"""The stages of a feed run that write, each on its own, on real PostgreSQL (a fresh database per test):
record begins, resumes and abandons runs; accept stages signals and keeps rejected rows; publish releases
staged signals into the outbox (corrections on v3); record fails a run or ends it with its event."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from services.ingest.feeds.base import ParsedRecord, RowRejected
from services.ingest.models import FeedRun, RejectedRow, SignalRecord, messaging
from services.ingest.runs import accept, publish, record
from services.ingest.runs.config import FeedConfig
from services.ingest.runs.schemas import RunResult
from shared.contracts import Topic
from shared.contracts.ingest import SignalKind, SignalKindV3, SignalV2, SignalV3, Subject
from shared.db.session import Database
from shared.kafka.outbox import Outbox

pytestmark = pytest.mark.integration
FEED = FeedConfig(name="liaoning", kind="food_spot_check", url="https://example.org/l.csv")
STARTED = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
OUTBOX = Outbox(messaging.outbox, "ingest")


@pytest.fixture
async def db(service_settings: Callable[..., Any]) -> AsyncIterator[Database]:
    database = Database(service_settings("ingest"))
    yield database
    await database.dispose()


def parsed(name: str, correction: bool = False) -> ParsedRecord:
    digest = hashlib.sha256(name.encode()).hexdigest()
    common = {"signal_id": uuid.uuid5(uuid.NAMESPACE_URL, name), "feed": FEED.name, "subject": Subject(name=name)}
    signal = (
        SignalV3(kind=SignalKindV3.SPOT_CHECK_OVERTURNED, **common)
        if correction
        else SignalV2(kind=SignalKind.FOOD_SPOT_CHECK_FAILURE, **common)
    )
    return ParsedRecord(1, {"企业名称": name}, digest, signal)


async def begun(db: Database, sha: str = "a" * 64) -> RunResult:
    async with db.transaction() as session:
        return await record.begin(session, FEED, sha, STARTED)


async def staged(db: Database, run_id: uuid.UUID, *names: str) -> accept.Staged:
    async with db.transaction() as session:
        return await accept.stage(session, FEED, run_id, [parsed(n) for n in names])


async def outbox(db: Database) -> list[tuple[str, str, str]]:
    """(topic, key, the payload's kind or status) of every queued event, in order."""
    async with db.sessions() as session:
        rows = (await session.execute(select(messaging.outbox).order_by(messaging.outbox.c.id))).all()
    return [(r.topic, r.key, _what(r.envelope["payload"])) for r in rows]


def _what(payload: dict[str, Any]) -> str:
    """A signal's kind, or a feed run's status."""
    return str(payload["kind"] if "signal_id" in payload else payload["status"])


async def test_a_run_begins_resumes_on_the_same_file_and_is_abandoned_for_another(db: Database) -> None:
    first = await begun(db)
    assert (first.status, first.resumed, first.started_at) == ("running", False, STARTED)
    await staged(db, first.run_id, "甲公司")
    again = await begun(db)
    assert (again.run_id, again.resumed) == (first.run_id, True)
    newer = await begun(db, "b" * 64)
    assert newer.run_id != first.run_id and not newer.resumed
    async with db.sessions() as session:
        old = await session.get(FeedRun, first.run_id)
        left = await session.scalar(select(func.count()).select_from(SignalRecord))
    assert old is not None and (old.status, old.error) == ("abandoned", record.SUPERSEDED)
    assert left == 0  # the abandoned run's staged signals were never published: dropped


async def test_staging_counts_new_signals_and_what_another_run_staged_as_duplicates(db: Database) -> None:
    first = await begun(db)
    assert await staged(db, first.run_id, "甲公司", "乙公司") == accept.Staged(accepted=2, duplicates=0)
    assert await staged(db, first.run_id, "甲公司") == accept.Staged(accepted=1, duplicates=0)  # resumed: its own
    assert await staged(db, uuid.uuid4(), "甲公司", "丙公司") == accept.Staged(accepted=1, duplicates=1)
    async with db.sessions() as session:
        rows = (await session.scalars(select(SignalRecord).order_by(SignalRecord.subject_key))).all()
    assert all(not r.released for r in rows) and len(rows) == 3


async def test_rejected_rows_are_kept_with_their_reason(db: Database) -> None:
    run = await begun(db)
    async with db.transaction() as session:
        await accept.reject(session, FEED, run.run_id, [RowRejected(4, "row 4: impossible date", "('x',)")])
    async with db.sessions() as session:
        [row] = (await session.scalars(select(RejectedRow))).all()
    assert (row.run_id, row.row_number, row.reason, row.raw, row.source) == (
        run.run_id,
        4,
        "row 4: impossible date",
        "('x',)",
        FEED.url,
    )


async def test_release_queues_staged_signals_corrections_on_v3_and_marks_them_released(db: Database) -> None:
    run = await begun(db)
    async with db.transaction() as session:
        await accept.stage(session, FEED, run.run_id, [parsed("甲公司"), parsed("乙公司", correction=True)])
    async with db.transaction() as session:
        assert await publish.release(session, OUTBOX, run.run_id, limit=1) == 1
    async with db.transaction() as session:
        assert await publish.release(session, OUTBOX, run.run_id) == 1
        assert await publish.release(session, OUTBOX, run.run_id) == 0
    assert sorted(await outbox(db)) == [
        (Topic.SIGNAL_RECEIVED_V2.value, "甲公司", "food_spot_check_failure"),
        (Topic.SIGNAL_RECEIVED_V3.value, "乙公司", "spot_check_overturned"),
    ]
    async with db.sessions() as session:
        assert all((await session.scalars(select(SignalRecord.released))).all())


async def test_a_failed_run_drops_what_it_staged_and_queues_its_end(db: Database) -> None:
    run = await begun(db)
    await staged(db, run.run_id, "甲公司")
    run.read, run.accepted = 1, 1
    async with db.transaction() as session:
        await accept.reject(session, FEED, run.run_id, [RowRejected(2, "row 2: no name", "")])
        await record.fail(session, OUTBOX, run, "the file is truncated or corrupt")
    async with db.sessions() as session:
        row = await session.get(FeedRun, run.run_id)
        left = await session.scalar(select(func.count()).select_from(SignalRecord))
        rejected = await session.scalar(select(func.count()).select_from(RejectedRow))
    assert row is not None and (row.status, row.error, row.read, row.accepted) == (
        "failed",
        "the file is truncated or corrupt",
        1,
        0,
    )
    assert row.finished_at is not None and (left, rejected) == (0, 0)
    assert await outbox(db) == [(Topic.FEED_RUN_COMPLETED.value, FEED.name, "failed")]


async def test_a_run_that_read_its_file_ends_partial_and_keeps_the_feeds_snapshot_and_validators(
    db: Database,
) -> None:
    run = await begun(db)
    run.read, run.accepted, run.rejected = 3, 2, 1
    async with db.transaction() as session:
        await record.succeed(session, OUTBOX, run, b"snapshot")
        await record.remember(session, FEED.name, '"etag-1"', "Mon, 02 Mar 2026 18:00:00 GMT", "a" * 64)
    snapshot_feed = FEED.model_copy(update={"snapshot": True})
    async with db.sessions() as session:
        row = await session.get(FeedRun, run.run_id)
        assert await record.previous_snapshot(session, snapshot_feed) == b"snapshot"
        assert await record.previous_snapshot(session, FEED) is None  # not a snapshot feed
        assert await record.validators(session, FEED.name) == ('"etag-1"', "Mon, 02 Mar 2026 18:00:00 GMT")
        assert await record.validators(session, "never-ran") == (None, None)
    assert row is not None and (row.status, row.read, row.accepted, row.rejected) == ("partial", 3, 2, 1)
    assert await outbox(db) == [(Topic.FEED_RUN_COMPLETED.value, FEED.name, "partial")]


async def test_an_unchanged_feed_is_recorded_as_not_modified(db: Database) -> None:
    run = record.result(FEED, uuid.uuid4(), STARTED)
    async with db.transaction() as session:
        await record.not_modified(session, OUTBOX, run)
    async with db.sessions() as session:
        row = await session.get(FeedRun, run.run_id)
    assert row is not None and (row.status, row.finished_at) == ("not_modified", run.finished_at)
    assert await outbox(db) == [(Topic.FEED_RUN_COMPLETED.value, FEED.name, "not_modified")]
