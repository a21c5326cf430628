"""The parse stage of a feed run: the adapter's items, a chunk at a time off the event loop, each sorted
into what it becomes (a signal, a duplicate within the file, a rejected row, a passing row) and counted.

No database here: a test hands it a parser and a file, or a list of items."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from services.ingest.feeds.base import Item, ParsedRecord, ParseResult, PassingRow, RowRejected
from services.ingest.runs.config import FeedConfig
from services.ingest.runs.schemas import RunResult, ShownRejection

CHUNK = 500  # items parsed per trip to the worker thread
SHOWN_REJECTIONS = 1000  # rejected rows a result lists (GET /feed-runs/{id}/rejected has them all)
NO_ROWS = "the file has no data rows: a header and nothing under it"

Outcome = Literal["signal", "duplicate", "rejected", "passing"]
Parsed = ParseResult | Iterable[Item]  # a snapshot parser's ParseResult, or any iterable of items


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
    ) -> Parsed: ...


@dataclass
class Sorted:
    """One chunk of items by what they become; `outcomes` keeps each item beside its outcome, in order."""

    signals: list[ParsedRecord] = field(default_factory=list)
    rejected: list[RowRejected] = field(default_factory=list)
    passing: int = 0
    duplicates: int = 0
    outcomes: list[tuple[Item, Outcome]] = field(default_factory=list)


async def parse(parser: Parser, feed: FeedConfig, path: Path, previous: bytes | None) -> Parsed:
    """The parser's result for this feed's file, made on a worker thread: opening a workbook and finding
    its header can take seconds."""
    return await asyncio.to_thread(
        parser,
        feed.kind,
        path,
        feed=feed.name,
        previous_snapshot=previous,
        snapshot=feed.snapshot,
        publisher=feed.publisher,
    )


async def chunks(parsed: Parsed) -> AsyncIterator[list[Item]]:
    """The parser's items, parsed on a worker thread a chunk at a time (a generator may be resumed from
    any thread, one at a time)."""
    items: Iterator[Item] = iter(parsed.items() if isinstance(parsed, ParseResult) else parsed)
    while chunk := await asyncio.to_thread(_take, items, CHUNK):
        yield chunk


def _take(items: Iterator[Item], count: int) -> list[Item]:
    return list(itertools.islice(items, count))


def outcome(item: Item, seen: set[uuid.UUID]) -> Outcome:
    """What one item becomes; a signal id already `seen` in this file is a duplicate (and is added to it)."""
    if isinstance(item, PassingRow):
        return "passing"
    if isinstance(item, RowRejected):
        return "rejected"
    if item.signal.signal_id in seen:
        return "duplicate"
    seen.add(item.signal.signal_id)
    return "signal"


def sort(chunk: Iterable[Item], seen: set[uuid.UUID]) -> Sorted:
    """A chunk of items by outcome."""
    part = Sorted()
    for item in chunk:
        became = outcome(item, seen)
        part.outcomes.append((item, became))
        if isinstance(item, ParsedRecord) and became == "signal":
            part.signals.append(item)
        elif isinstance(item, RowRejected):
            part.rejected.append(item)
        elif became == "passing":
            part.passing += 1
        else:
            part.duplicates += 1
    return part


def count(result: RunResult, part: Sorted) -> None:
    """Add a sorted chunk to the run's counts; `accepted` is left to the caller (a real run counts only
    what staging finds new, a dry run every signal)."""
    result.read += len(part.outcomes)
    result.skipped_passing += part.passing
    result.duplicates += part.duplicates
    result.rejected += len(part.rejected)
    room = SHOWN_REJECTIONS - len(result.rejections)
    result.rejections += [ShownRejection(row=r.row, reason=r.reason) for r in part.rejected[: max(room, 0)]]


def count_snapshot(result: RunResult, parsed: Parsed) -> None:
    """What the parser counted itself. A snapshot parser yields only differences: the unchanged rows were
    read, and were seen before, so duplicates. Rows read that are no signal (a certificate still valid)
    are read too."""
    if not isinstance(parsed, ParseResult):
        return
    if parsed.rows_read is not None:
        result.read = parsed.rows_read
        result.duplicates += parsed.unchanged
    result.read += parsed.skipped


def snapshot_of(parsed: Parsed) -> bytes | None:
    """The snapshot the next run of a snapshot feed diffs against; None for any other feed."""
    return parsed.snapshot if isinstance(parsed, ParseResult) else None


def reason(exc: Exception) -> str:
    """The message users see: the parser's own words for a file problem, else the error type too."""
    name = type(exc).__name__
    return str(exc) if name in {"FileRejected", "InvalidInput"} else f"{name}: {exc}"
