"""Benchmark: a 1,000,000-row credit-list CSV snapshot, parsed, validated, diffed and published.

Workload, as a nightly run sees it: yesterday's snapshot is known; today's has 1,000,000 rows of which
1% are new listings and 1% of yesterday's entries are gone. Every row is parsed and its credit code
validated; the diff finds the 20,000 changes, which are staged in PostgreSQL, released through the
outbox and published to the broker by the relay. It needs the local stack (`make up`); without it,
it measures parse + validate + diff alone and says so.

Prints rows/s for the whole run and peak RSS of this process.
"""

from __future__ import annotations

import asyncio
import resource
import tempfile
import time
from pathlib import Path

from certwatch.demo import bulletins as synthetic
from services.ingest.feeds import parse_file
from services.ingest.feeds.credit_list import snapshot_of
from services.ingest.models import messaging
from services.ingest.runs.config import FeedConfig
from services.ingest.runs.service import FeedRunner

ROWS = 1_000_000
TARGET_ROWS_PER_S = 30_000
TARGET_RSS_MB = 300


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_snapshots(folder: Path) -> tuple[Path, Path]:
    """Yesterday: rows 0..N-1. Today: rows 10,000..N+9,999 (1% gone, 1% new)."""
    yesterday, today = folder / "yesterday.csv", folder / "today.csv"
    for path, start in ((yesterday, 0), (today, ROWS // 100)):
        with path.open("w", encoding="utf-8", newline="") as handle:
            handle.write(",".join(synthetic.CREDIT_HEADER) + "\n")
            for offset in range(0, ROWS, 50_000):
                rows = synthetic.credit_rows(50_000, start=start + offset)
                handle.writelines(",".join(str(c) for c in row) + "\n" for row in rows)
    return yesterday, today


def parse_only(yesterday: Path, today: Path) -> tuple[float, int]:
    """Parse, validate and diff with no database (the fallback when no stack is up)."""
    previous = snapshot_of(yesterday)
    started = time.perf_counter()
    second = parse_file("abnormal_operation", today, feed="bench", previous_snapshot=previous)
    changes = sum(1 for _ in second.items())
    return time.perf_counter() - started, changes


async def remember_yesterday(db: object, feed: str, yesterday: Path) -> None:
    """Yesterday's run, as its result is kept: the snapshot state of the feed."""
    from services.ingest.models import FeedState

    async with db.transaction() as session:  # type: ignore[attr-defined]
        session.add(FeedState(feed=feed, snapshot=snapshot_of(yesterday)))


async def full_run(yesterday: Path, today: Path) -> tuple[float, int, float]:
    from certwatch import stack
    from services.ingest.settings import IngestSettings
    from shared.db.session import Database
    from shared.kafka.outbox import Outbox, OutboxRelay
    from shared.kafka.producer import Producer
    from shared.settings import PlatformSettings, data_dir

    stack.load_env(data_dir())
    db = Database(IngestSettings())
    producer = Producer(PlatformSettings(), "bench")
    await producer.start()
    outbox = Outbox(messaging.outbox, "ingest")
    relay = OutboxRelay(db, producer, messaging.outbox, "ingest", 0.05)
    feed_name = f"bench-snapshot-{int(time.time())}"
    try:
        runner = FeedRunner(db, outbox, parse_file)
        feed = FeedConfig(name=feed_name, kind="abnormal_operation", url=str(today), snapshot=True)
        await remember_yesterday(db, feed_name, yesterday)
        started = time.perf_counter()
        summary = await runner.run(feed)
        while await relay.publish_pending(5000):  # the stack's own ingest relay may take some of them
            pass
        elapsed = time.perf_counter() - started
        assert summary.read == ROWS, summary
        return elapsed, summary.published, 0.0
    finally:
        await producer.stop()
        await db.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        yesterday, today = write_snapshots(Path(tmp))
        print(f"generated two {ROWS:,}-row snapshots in {time.perf_counter() - t0:.1f}s")
        try:
            elapsed, published, _ = asyncio.run(full_run(yesterday, today))
            mode = "parse + validate + diff + stage + outbox + publish (local stack)"
        except Exception as exc:  # no stack up: measure what needs none
            print(f"(no local stack: {type(exc).__name__}: {exc}; measuring parse + validate + diff only)")
            elapsed, published = parse_only(yesterday, today)
            mode = "parse + validate + diff (no database)"
    rate = ROWS / elapsed
    rss = peak_rss_mb()
    print(f"workload      : {ROWS:,}-row credit-list snapshot diffed against yesterday's: {mode}")
    print(f"changes       : {published:,} signals published (new listings and removals)")
    print(f"elapsed       : {elapsed:.1f} s")
    verdict = "PASS" if rate >= TARGET_ROWS_PER_S else "FAIL"
    print(f"rows/s        : {rate:,.0f}   (target >= {TARGET_ROWS_PER_S:,})  {verdict}")
    print(f"peak RSS      : {rss:,.0f} MB (target <= {TARGET_RSS_MB})  {'PASS' if rss <= TARGET_RSS_MB else 'FAIL'}")


if __name__ == "__main__":
    main()
