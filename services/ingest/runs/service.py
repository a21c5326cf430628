"""Feed runs: fetch, parse, accept (staged unreleased), publish only when the whole file is good, record.

Each stage is a module of its own that a test calls without the others: fetch.py (the download),
parse.py (items sorted and counted, off the event loop), accept.py (raw records, staged signals,
rejected rows), publish.py (staged signals released into the outbox) and record.py (the run's row, its
FeedRunCompleted event, the feed's state). The runner here only sequences them, a transaction each.

A run stages its signals unreleased; a file-level problem discards them, so nothing from a bad file is
published. A run killed halfway is resumed by the next run of the same file: what it had staged is
kept, the rest is added, then everything is released once. Signal ids are deterministic, so a
re-delivered record finds its earlier signal and counts as a duplicate.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import text

from services.ingest.feeds.base import Item, ParsedRecord, RowRejected
from services.ingest.runs import accept, parse, publish, record
from services.ingest.runs.config import FeedConfig
from services.ingest.runs.fetch import FetchError, FetchPolicy, fetch, file_sha256
from services.ingest.runs.parse import NO_ROWS, Outcome, Parser
from services.ingest.runs.schemas import RunResult
from shared.contracts.ingest import FeedRunStatus
from shared.db.session import Database
from shared.kafka.outbox import Outbox

log = logging.getLogger(__name__)
BATCH = 1000  # signals or rejected rows kept per transaction

__all__ = ["FeedRunner", "Parser", "Progress", "Sink"]


class Sink(Protocol):
    """Sees every item of a dry run with what became of it: signal, duplicate, rejected or passing."""

    def __call__(self, item: Item, outcome: Outcome) -> None: ...


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
    ) -> RunResult:
        """One run of one feed: from its URL, or from `source` (an upload or a local file).

        A dry run parses and validates only; `sink` then sees every item and its outcome. `progress` is
        told the phase and how far it got, a chunk at a time."""
        progress = progress or _quiet
        if dry_run:
            return await self._run(feed, source, progress, sink, dry_run=True)
        async with self._exclusive(feed.name):
            return await self._run(feed, source, progress)

    async def refused(self, feed: FeedConfig, path: Path, dry_run: bool = False) -> RunResult | None:
        """A failed run, recorded, when the file as a whole is unreadable at a glance (empty, undecodable,
        corrupt, a zip bomb): checked before an upload is taken on as a job. None: it may be read."""
        try:
            await asyncio.to_thread(self.preflight, path)
        except Exception as exc:
            return await self._failed_before_parsing(feed, datetime.now(UTC), parse.reason(exc), dry_run)
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
        self, feed: FeedConfig, source: Path | None, progress: Progress, sink: Sink | None = None, dry_run: bool = False
    ) -> RunResult:
        started = datetime.now(UTC)
        with tempfile.TemporaryDirectory(dir=self.work_dir) as tmp:
            validators: tuple[str | None, str | None] = (None, None)
            if source is None and not dry_run:
                async with self.db.sessions() as session:
                    validators = await record.validators(session, feed.name)
            try:
                url, policy = str(source) if source else feed.url, FetchPolicy(feed.max_bytes)
                fetched = await fetch(url, Path(tmp) / "download", policy, *validators)
            except FetchError as exc:
                return await self._failed_before_parsing(feed, started, str(exc), dry_run)
            if fetched.not_modified or fetched.path is None:
                run = record.result(feed, uuid.uuid4(), started)
                async with self.db.transaction() as session:
                    await record.not_modified(session, self.outbox, run)
                return run
            if dry_run:
                return await self._dry_run(feed, fetched.path, started, sink, progress)
            sha = fetched.sha256 if fetched.sha256 is not None else await asyncio.to_thread(file_sha256, fetched.path)
            async with self.db.transaction() as session:
                run = await record.begin(session, feed, sha, started)
            await self._ingest(feed, fetched.path, run, progress)
            async with self.db.transaction() as session:
                await record.remember(session, feed.name, fetched.etag, fetched.last_modified, sha)
            return run

    async def _dry_run(
        self, feed: FeedConfig, path: Path, started: datetime, sink: Sink | None, progress: Progress
    ) -> RunResult:
        run = record.result(feed, uuid.uuid4(), started, dry_run=True)
        seen: set[uuid.UUID] = set()
        try:
            parsed = await parse.parse(self.parser, feed, path, None)
            async for chunk in parse.chunks(parsed):
                part = parse.sort(chunk, seen)
                parse.count(run, part)
                run.accepted += len(part.signals)  # a real run counts what staging finds new
                for item, outcome in part.outcomes:
                    if sink is not None:
                        sink(item, outcome)
                progress("reading rows", run.read)
        except Exception as exc:
            return _ended(run, FeedRunStatus.FAILED, parse.reason(exc))
        parse.count_snapshot(run, parsed)
        if run.read == 0:
            return _ended(run, FeedRunStatus.FAILED, NO_ROWS)
        return _ended(run, FeedRunStatus.PARTIAL if run.rejected else FeedRunStatus.SUCCEEDED)

    async def _ingest(self, feed: FeedConfig, path: Path, run: RunResult, progress: Progress) -> None:
        async with self.db.sessions() as session:
            previous = await record.previous_snapshot(session, feed)
        seen: set[uuid.UUID] = set()
        signals: list[ParsedRecord] = []
        rejects: list[RowRejected] = []
        try:
            parsed = await parse.parse(self.parser, feed, path, previous)
            async for chunk in parse.chunks(parsed):
                part = parse.sort(chunk, seen)
                parse.count(run, part)
                signals += part.signals
                rejects += part.rejected
                if len(signals) >= BATCH or len(rejects) >= BATCH:
                    await self._accept(feed, run, signals, rejects)
                progress("reading rows", run.read)
            await self._accept(feed, run, signals, rejects)
        except Exception as exc:  # a file-level problem: fail the run, publish nothing from the file
            await self._fail(run, parse.reason(exc))
            return
        parse.count_snapshot(run, parsed)
        if run.read == 0:  # a header with nothing under it is no successful run of a bulletin
            await self._fail(run, NO_ROWS)
            return
        await self._release(run, progress)
        async with self.db.transaction() as session:
            await record.succeed(session, self.outbox, run, parse.snapshot_of(parsed))

    async def _accept(
        self, feed: FeedConfig, run: RunResult, signals: list[ParsedRecord], rejects: list[RowRejected]
    ) -> None:
        """Stage the signals and keep the rejected rows gathered so far, in one transaction; then forget them."""
        async with self.db.transaction() as session:
            staged = await accept.stage(session, feed, run.run_id, signals)
            await accept.reject(session, feed, run.run_id, rejects)
        run.accepted += staged.accepted
        run.duplicates += staged.duplicates
        signals.clear()
        rejects.clear()

    async def _release(self, run: RunResult, progress: Progress) -> None:
        """Queue every staged signal of the run for publishing, a batch per transaction."""
        progress("releasing signals", 0)
        while True:
            async with self.db.transaction() as session:
                released = await publish.release(session, self.outbox, run.run_id)
            if not released:
                return
            run.published += released
            progress("releasing signals", run.published)

    async def _fail(self, run: RunResult, reason: str) -> None:
        log.warning("feed %s run %s failed: %s", run.feed, run.run_id, reason)
        async with self.db.transaction() as session:
            await record.fail(session, self.outbox, run, reason)

    async def _failed_before_parsing(
        self, feed: FeedConfig, started: datetime, reason: str, dry_run: bool
    ) -> RunResult:
        run = record.result(feed, uuid.uuid4(), started, dry_run=dry_run)
        if dry_run:
            return _ended(run, FeedRunStatus.FAILED, reason)
        async with self.db.transaction() as session:
            session.add(record.new_run(run))
        await self._fail(run, reason)
        return run


def _ended(run: RunResult, status: FeedRunStatus, error: str | None = None) -> RunResult:
    """A dry run's end: nothing stored, so nothing recorded."""
    run.status, run.error, run.finished_at = status.value, error, datetime.now(UTC)
    return run


def _quiet(phase: str, done: int) -> None:
    """No one follows this run's progress."""
