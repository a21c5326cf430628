"""Feed runs: fetch, parse, stage, then release for publishing only when the whole file is good.

A run stages its signals unreleased; a file-level problem discards them, so nothing from a bad
file is published. A run killed halfway is resumed by the next run of the same file: what it had
staged is kept, the rest is added, then everything is released once. Signal ids are deterministic,
so a re-delivered record finds its earlier signal and counts as a duplicate.

The file is parsed on a worker thread, a chunk of rows at a time: the event loop (health checks,
every other request) never waits for a parse, and a run holds a chunk, never the whole file.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.models import FeedRun, FeedState, SignalRecord
from services.ingest.runs import repository
from services.ingest.runs.config import FeedConfig
from services.ingest.runs.fetch import FetchError, FetchPolicy, fetch, file_sha256
from shared.contracts import Topic, deterministic_id
from shared.contracts.ingest import V3_ONLY_KINDS, FeedRunCompleted, FeedRunStatus, SignalV2
from shared.db.session import Database
from shared.kafka.outbox import Outbox

log = logging.getLogger(__name__)
BATCH = 1000
RELEASE_BATCH = 5000
CHUNK = 500  # items parsed per trip to the worker thread
SHOWN_REJECTIONS = 1000  # rejected rows a summary lists (GET /feed-runs/{id}/rejected has them all)
NO_ROWS = "the file has no data rows: a header and nothing under it"


class Record(Protocol):
    row: int
    content_hash: str
    raw: Any
    signal: SignalV2


class Rejection(Protocol):
    row: int | None
    reason: str
    raw: Any


class Parser(Protocol):
    def __call__(
        self,
        kind: str,
        path: Path,
        *,
        feed: str,
        previous_snapshot: bytes | None,
        snapshot: bool,
        publisher: str | None = None,
    ) -> Any: ...


@dataclass
class RunSummary:
    run_id: uuid.UUID
    feed: str
    kind: str
    status: str = "running"
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    published: int = 0
    skipped_passing: int = 0
    error: str | None = None
    dry_run: bool = False
    resumed: bool = False
    rejections: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "rejections"}
        data["run_id"] = str(self.run_id)
        return data


class Sink(Protocol):
    """Sees every item of a dry run with what became of it: signal, duplicate, rejected or passing."""

    def __call__(self, item: Any, outcome: str) -> None: ...


Progress = Callable[[str, int], None]  # (phase, how many of it so far): a job's progress


class FeedRunner:
    """Runs feeds for the ingest service: the scheduler, the API and the CLI all come through here."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        parser: Parser,
        work_dir: Path | None = None,
        preflight: Callable[[Path], None] = lambda path: None,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.parser = parser
        self.work_dir = work_dir or Path(tempfile.gettempdir())
        self.preflight = preflight  # a glance at the whole file (encoding, zip directory); raises if unreadable

    async def run(
        self,
        feed: FeedConfig,
        *,
        source: Path | None = None,
        dry_run: bool = False,
        sink: Sink | None = None,
        progress: Progress | None = None,
    ) -> RunSummary:
        """One run of one feed: from its URL, or from `source` (an upload or a local file).

        A dry run parses and validates only; `sink` then sees every item and its outcome. `progress` is
        told the phase and how far it got, a chunk at a time."""
        progress = progress or _quiet
        if dry_run:
            return await self._run(feed, source, dry_run, progress, sink)
        async with self._exclusive(feed.name):
            return await self._run(feed, source, dry_run, progress)

    async def refused(self, feed: FeedConfig, path: Path, dry_run: bool = False) -> RunSummary | None:
        """A failed run, recorded, when the file as a whole is unreadable at a glance (empty, undecodable,
        corrupt, a zip bomb): checked before an upload is taken on as a job. None: it may be read."""
        try:
            await asyncio.to_thread(self.preflight, path)
        except Exception as exc:
            return await self._failed_before_parsing(feed, datetime.now(UTC), _reason(exc), dry_run)
        return None

    @asynccontextmanager
    async def _exclusive(self, feed: str) -> AsyncIterator[None]:
        """One run of a feed at a time, across processes (scheduler, API, CLI): a PostgreSQL advisory lock."""
        key = int.from_bytes(
            hashlib.blake2b(f"certwatch.feed:{feed}".encode(), digest_size=8).digest(), "big", signed=True
        )
        async with self.db.engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            await conn.commit()
            try:
                yield
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                await conn.commit()

    async def _run(
        self, feed: FeedConfig, source: Path | None, dry_run: bool, progress: Progress, sink: Sink | None = None
    ) -> RunSummary:
        started = datetime.now(UTC)
        with tempfile.TemporaryDirectory(dir=self.work_dir) as tmp:
            try:
                fetched = await fetch(
                    str(source) if source else feed.url,
                    Path(tmp) / "download",
                    FetchPolicy(feed.max_bytes),
                    *(await self._validators(feed, source) if not dry_run else (None, None)),
                )
            except FetchError as exc:
                return await self._failed_before_parsing(feed, started, str(exc), dry_run)
            if fetched.not_modified or fetched.path is None:
                return await self._not_modified(feed, started)
            sha = fetched.sha256 if fetched.sha256 is not None else await asyncio.to_thread(file_sha256, fetched.path)
            if dry_run:
                return await self._dry_run(feed, fetched.path, sink, progress)
            summary = await self._begin(feed, sha, started)
            await self._ingest(feed, fetched.path, summary, progress)
            await self._remember(feed, fetched.etag, fetched.last_modified, sha)
            return summary

    async def _validators(self, feed: FeedConfig, source: Path | None) -> tuple[str | None, str | None]:
        if source is not None:
            return None, None
        async with self.db.sessions() as session:
            state = await repository.state(session, feed.name)
        return (state.etag, state.last_modified) if state else (None, None)

    async def _dry_run(self, feed: FeedConfig, path: Path, sink: Sink | None, progress: Progress) -> RunSummary:
        summary = RunSummary(uuid.uuid4(), feed.name, feed.kind, dry_run=True)
        seen: set[uuid.UUID] = set()
        try:
            result = await self._parse(feed, path, None)
            async for chunk in _chunks(result):
                for item in chunk:
                    outcome = self._count(summary, item, seen)
                    summary.accepted += outcome == "signal"  # a real run counts what staging found new
                    if sink is not None:
                        sink(item, outcome)
                progress("reading rows", summary.read)
        except Exception as exc:
            summary.status, summary.error = "failed", _reason(exc)
            return summary
        self._snapshot_counts(summary, result)
        if summary.read == 0:
            summary.status, summary.error = "failed", NO_ROWS
            return summary
        summary.status = "partial" if summary.rejected else "succeeded"
        return summary

    @staticmethod
    def _count(summary: RunSummary, item: Any, seen: set[uuid.UUID]) -> str:
        """What became of one item (signal, duplicate, rejected or passing), counted on the summary;
        `accepted` is left to the caller (a real run counts only what staging finds new)."""
        summary.read += 1
        if getattr(item, "skipped_passing", False):
            summary.skipped_passing += 1
            return "passing"
        if not hasattr(item, "signal"):
            summary.rejected += 1
            if len(summary.rejections) < SHOWN_REJECTIONS:
                summary.rejections.append({"row": item.row, "reason": item.reason})
            return "rejected"
        if item.signal.signal_id in seen:
            summary.duplicates += 1
            return "duplicate"
        seen.add(item.signal.signal_id)
        return "signal"

    async def _parse(self, feed: FeedConfig, path: Path, previous: bytes | None) -> Any:
        """The parser's result for this feed's file: a ParseResult, or an iterable of items. Made on a
        worker thread: opening a workbook and finding its header can take seconds."""
        return await asyncio.to_thread(
            self.parser,
            feed.kind,
            path,
            feed=feed.name,
            previous_snapshot=previous,
            snapshot=feed.snapshot,
            publisher=feed.publisher,
        )

    async def _begin(self, feed: FeedConfig, sha: str, started: datetime) -> RunSummary:
        """Resume an interrupted run of this same file, or abandon it and start afresh."""
        async with self.db.transaction() as session:
            stale = await repository.unfinished_run(session, feed.name)
            if stale is not None and stale.source_sha256 == sha:
                return RunSummary(stale.run_id, feed.name, feed.kind, resumed=True)
            if stale is not None:
                await repository.discard_staged(session, stale.run_id)
                stale.status, stale.finished_at, stale.error = (
                    "abandoned",
                    started,
                    "superseded by a newer file",
                )
            run = _new_run(uuid.uuid4(), feed, started, sha)
            session.add(run)
        return RunSummary(run.run_id, feed.name, feed.kind)

    async def _ingest(self, feed: FeedConfig, path: Path, summary: RunSummary, progress: Progress) -> None:
        previous = await self._previous_snapshot(feed)
        seen: set[uuid.UUID] = set()
        batch: list[Any] = []
        rejects: list[dict[str, Any]] = []
        try:
            result = await self._parse(feed, path, previous)
            async for chunk in _chunks(result):
                for item in chunk:
                    outcome = self._count(summary, item, seen)
                    if outcome == "signal":
                        batch.append(item)
                    elif outcome == "rejected":
                        rejects.append(self._rejection(feed, summary, item))
                if len(batch) >= BATCH:
                    await self._stage(feed, batch, summary)
                if len(rejects) >= BATCH:
                    await self._reject(rejects)
                progress("reading rows", summary.read)
            await self._stage(feed, batch, summary)
            await self._reject(rejects)
        except Exception as exc:  # a file-level problem: fail the run, publish nothing from the file
            await self._fail(summary, _reason(exc))
            return
        self._snapshot_counts(summary, result)
        if summary.read == 0:  # a header with nothing under it is no successful run of a bulletin
            await self._fail(summary, NO_ROWS)
            return
        await self._release(summary, progress)
        await self._complete(summary, getattr(result, "snapshot", None))

    @staticmethod
    def _snapshot_counts(summary: RunSummary, result: Any) -> None:
        """A snapshot parser yields only differences: unchanged rows were seen before, so duplicates."""
        if getattr(result, "rows_read", None) is not None:
            summary.read = result.rows_read
            summary.duplicates += result.unchanged
        summary.read += getattr(result, "skipped", 0)  # rows read that are no signal (a certificate still valid)

    @staticmethod
    def _rejection(feed: FeedConfig, summary: RunSummary, item: Any) -> dict[str, Any]:
        raw = item.raw if isinstance(item.raw, str) else repr(item.raw)
        return {
            "run_id": summary.run_id,
            "feed": feed.name,
            "source": feed.url,
            "row_number": item.row,
            "reason": item.reason,
            "raw": raw[:4000],
        }

    async def _stage(self, feed: FeedConfig, batch: list[Any], summary: RunSummary) -> None:
        """Keep the raw records and stage the signals, unreleased; count what was new."""
        if not batch:
            return
        raws = [
            {
                "content_hash": r.content_hash,
                "feed": feed.name,
                "kind": feed.kind,
                "content": r.raw if isinstance(r.raw, dict) else {"raw": r.raw},
                "run_id": summary.run_id,
            }
            for r in batch
        ]
        rows = [
            {
                "signal_id": r.signal.signal_id,
                "feed": feed.name,
                "kind": r.signal.kind.value,
                "subject_key": r.signal.subject_key[:300],
                "payload": r.signal.model_dump(mode="json"),
                "raw_record_ref": r.content_hash,
                "run_id": summary.run_id,
                "released": False,
            }
            for r in batch
        ]
        async with self.db.transaction() as session:
            await repository.keep_raw_many(session, _unique(raws, "content_hash"))
            new = await repository.stage_signals(session, rows)
            existing = [r["signal_id"] for r in rows if r["signal_id"] not in new]
            mine = await repository.staged_by(session, existing, summary.run_id) if existing else set()
        summary.accepted += len(new) + len(mine)
        summary.duplicates += len(existing) - len(mine)
        batch.clear()

    async def _reject(self, rejects: list[dict[str, Any]]) -> None:
        if rejects:
            async with self.db.transaction() as session:
                await repository.reject_many(session, rejects)
            rejects.clear()

    async def _release(self, summary: RunSummary, progress: Progress) -> None:
        """Queue every staged signal of the run for publishing, a batch per transaction."""
        progress("releasing signals", 0)
        while True:
            async with self.db.transaction() as session:
                staged = await repository.unreleased(session, summary.run_id, RELEASE_BATCH)
                if not staged:
                    return
                # The stored payload is the SignalReceived payload: staged from the validated model.
                event_ids = [deterministic_id("signal-received", signal_id) for signal_id in staged]
                rows = repository.release_rows(staged, event_ids)
                # Corrections go on v3 (v2 has no such kind); every other signal stays on v2.
                corrections = SignalRecord.kind.in_([k.value for k in V3_ONLY_KINDS])
                await self.outbox.add_from(session, Topic.SIGNAL_RECEIVED_V2, rows.where(~corrections))
                await self.outbox.add_from(session, Topic.SIGNAL_RECEIVED_V3, rows.where(corrections))
                await repository.mark_released(session, staged)
            summary.published += len(staged)
            progress("releasing signals", summary.published)

    async def _complete(self, summary: RunSummary, snapshot: bytes | None) -> None:
        summary.status = FeedRunStatus.PARTIAL.value if summary.rejected else FeedRunStatus.SUCCEEDED.value
        async with self.db.transaction() as session:
            await self._finish(session, summary)
            if snapshot is not None:
                state = await self._state(session, summary.feed)
                state.snapshot = snapshot

    async def _fail(self, summary: RunSummary, reason: str) -> None:
        log.warning("feed %s run %s failed: %s", summary.feed, summary.run_id, reason)
        summary.status, summary.error = FeedRunStatus.FAILED.value, reason
        summary.accepted = summary.duplicates = summary.published = summary.skipped_passing = 0
        async with self.db.transaction() as session:
            await repository.discard_staged(session, summary.run_id)
            await self._finish(session, summary)

    async def _finish(self, session: AsyncSession, summary: RunSummary) -> None:
        run = await session.get(FeedRun, summary.run_id)
        assert run is not None
        finished = datetime.now(UTC)
        run.status, run.finished_at, run.error = summary.status, finished, summary.error
        for counter in ("read", "accepted", "rejected", "duplicates", "published", "skipped_passing"):
            setattr(run, counter, getattr(summary, counter))
        event = FeedRunCompleted(
            run_id=run.run_id,
            feed=run.feed,
            kind=run.kind,
            status=FeedRunStatus(summary.status),
            started_at=run.started_at,
            finished_at=finished,
            read=run.read,
            accepted=run.accepted,
            rejected=run.rejected,
            duplicates=run.duplicates,
            published=run.published,
            error=run.error,
        )
        await self.outbox.add(
            session,
            Topic.FEED_RUN_COMPLETED,
            run.feed,
            event,
            event_id=deterministic_id("feed-run", run.run_id),
        )

    async def _failed_before_parsing(
        self, feed: FeedConfig, started: datetime, reason: str, dry_run: bool
    ) -> RunSummary:
        summary = RunSummary(uuid.uuid4(), feed.name, feed.kind, dry_run=dry_run)
        if dry_run:
            summary.status, summary.error = "failed", reason
            return summary
        async with self.db.transaction() as session:
            session.add(_new_run(summary.run_id, feed, started))
        await self._fail(summary, reason)
        return summary

    async def _not_modified(self, feed: FeedConfig, started: datetime) -> RunSummary:
        summary = RunSummary(uuid.uuid4(), feed.name, feed.kind, status=FeedRunStatus.NOT_MODIFIED.value)
        async with self.db.transaction() as session:
            session.add(_new_run(summary.run_id, feed, started))
            await session.flush()
            await self._finish(session, summary)
        return summary

    async def _previous_snapshot(self, feed: FeedConfig) -> bytes | None:
        if not feed.snapshot:
            return None
        async with self.db.sessions() as session:
            state = await repository.state(session, feed.name)
        return state.snapshot if state else None

    async def _remember(self, feed: FeedConfig, etag: str | None, modified: str | None, sha: str) -> None:
        async with self.db.transaction() as session:
            state = await self._state(session, feed.name)
            state.etag, state.last_modified, state.last_sha256 = etag, modified, sha
            state.updated_at = datetime.now(UTC)

    @staticmethod
    async def _state(session: AsyncSession, feed: str) -> FeedState:
        state = await repository.state(session, feed)
        if state is None:
            state = FeedState(feed=feed)
            session.add(state)
            await session.flush()
        return state


def _new_run(run_id: uuid.UUID, feed: FeedConfig, started: datetime, sha256: str | None = None) -> FeedRun:
    """A run row as it starts: running, nothing counted yet."""
    return FeedRun(
        run_id=run_id, feed=feed.name, kind=feed.kind, source=feed.url, status="running", started_at=started,
        source_sha256=sha256, read=0, accepted=0, rejected=0, duplicates=0, published=0, skipped_passing=0,
    )  # fmt: skip


def _quiet(phase: str, done: int) -> None:
    """No one follows this run's progress."""


async def _chunks(result: Any) -> AsyncIterator[list[Any]]:
    """The parser's items, parsed on a worker thread a chunk at a time (a generator may be resumed from
    any thread, one at a time)."""
    items: Iterator[Any] = iter(result if isinstance(result, Iterable) else result.items())
    while chunk := await asyncio.to_thread(_take, items, CHUNK):
        yield chunk


def _take(items: Iterator[Any], count: int) -> list[Any]:
    return list(itertools.islice(items, count))


def _unique(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return list({row[key]: row for row in rows}.values())


def _reason(exc: Exception) -> str:
    """The message users see: the parser's own words for a file problem, else the error type too."""
    name = type(exc).__name__
    return str(exc) if name in {"FileRejected", "InvalidInput"} else f"{name}: {exc}"
