"""The registry import, set-based (issue 13 item 2): generated exports of 100,000 and 1,000,000 rows
imported as the rules service imports them (registry/jobs.py: read a chunk at a time on a worker thread,
copied into the database, compared and written in SQL), on a PostgreSQL of its own.

Prints, per size: the time, rows/s, the peak RSS of this process during the import (VmHWM, reset before
each), a re-import of the same file (nothing changed), and the asyncpg COPY of the same rows into a
scratch table in the same run, with the ratio. After the 100,000-row import (into a registry of 1,000,
indexed): how long until the live matcher index has it (a new index built beside the current one and
swapped in) and how long a match waited meanwhile (one every 50 ms, during the import and the build).

    .venv/bin/python bench/bench_import.py [--sizes 100000,1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_flow import REGISTRY_HEADER, copy_baseline, csv_bytes, organisations

IMPORT_100K_TARGET_S = 30.0
IMPORT_1M_TARGET_S = 300.0
RSS_1M_TARGET_MB = 1536.0
INDEX_TARGET_S = 5.0
FIRST = 50_000_000  # numbering of the generated organisations (apart from bench_flow's)
SEED = 1_000  # organisations in the registry before the imports


def hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_hwm() -> None:
    """The peak RSS from now on (Linux: 5 > clear_refs resets VmHWM to the current RSS)."""
    Path("/proc/self/clear_refs").write_text("5")


class Runtime:
    """What registry/jobs.py needs of the service's runtime."""

    def __init__(self, db: Any, outbox: Any) -> None:
        self.db, self.outbox = db, outbox
        self.hooks: list[Any] = []

    def committed(self) -> None:
        for hook in self.hooks:
            hook()


async def matcher_meanwhile(live: Any, name: str, stop: asyncio.Event) -> tuple[int, float]:
    """Match `name` every 50 ms until stopped: how many answered, and the longest a match took."""
    from services.rules.matcher.index import RegistryIndex

    count, worst = 0, 0.0
    while not stop.is_set():
        started = time.perf_counter()
        assert await live.call(RegistryIndex.match, name), f"{name} not matched"
        worst = max(worst, time.perf_counter() - started)
        count += 1
        await asyncio.sleep(0.05)
    return count, worst


async def run(sizes: list[int]) -> None:
    from certwatch.services import folder_of
    from certwatch.stack.postgres import provision_database, start_postgres
    from services.rules.db import messaging
    from services.rules.registry.jobs import import_file
    from services.rules.registry.live_index import LiveIndex
    from services.rules.settings import RulesSettings
    from shared.db.migrations import upgrade
    from shared.db.session import Database
    from shared.jobs import Progress
    from shared.kafka.outbox import Outbox

    folder = Path(tempfile.mkdtemp(prefix="certwatch-bench-import-"))
    os.chmod(folder, 0o755)  # PostgreSQL's unprivileged user reads it
    pg = start_postgres(folder)
    try:
        password = secrets.token_urlsafe(16)
        await provision_database(pg.admin_dsn, "bench_import", {"certwatch_rules": password})
        dsn = f"postgresql+asyncpg://certwatch_rules:{password}@127.0.0.1:{pg.port}/bench_import"
        await asyncio.to_thread(upgrade, folder_of("rules"), dsn)
        admin = pg.admin_dsn.rsplit("/", 1)[0] + "/bench_import"
        db = Database(RulesSettings(database_url=dsn))
        runtime = Runtime(db, Outbox(messaging.outbox, "rules"))
        # A registry of SEED organisations, indexed: the import's change is then a bulk change to an index
        # in use (into an empty one, the index loads in place: nothing to match against meanwhile).
        seed = organisations(FIRST - SEED, SEED)
        seeded = csv_bytes([org.registry_row() for org in seed], [REGISTRY_HEADER])
        await import_file(runtime, seeded, "seed.csv", Progress())  # type: ignore[arg-type]
        live = LiveIndex(db, every=3600)
        await live.refresh()
        runtime.hooks.append(lambda: setattr(live, "dirty", True))
        results = []
        first = FIRST
        for size in sizes:
            orgs = organisations(first, size)
            first += size
            data = csv_bytes([org.registry_row() for org in orgs], [REGISTRY_HEADER])
            copy_rate = await copy_baseline(admin.replace("postgresql+asyncpg://", "postgresql://"), orgs)
            del orgs
            gc.collect()
            print(
                f"\n{size:,} rows ({len(data) / 2**20:.0f} MB of CSV); COPY baseline {copy_rate:,.0f} rows/s",
                flush=True,
            )

            reset_hwm()
            rss_before = hwm_mb()
            matching = asyncio.Event()
            watcher = None
            if size <= 100_000:
                watcher = asyncio.create_task(matcher_meanwhile(live, seed[0].name, matching))
            started = time.perf_counter()
            report = await import_file(runtime, data, f"bench-{size}.csv", Progress())  # type: ignore[arg-type]
            took = time.perf_counter() - started
            rss_peak = hwm_mb()
            index_after = None
            if watcher is not None:
                live.dirty = True
                while live.rebuilt == 0 and time.perf_counter() - started < took + 300:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                index_after = time.perf_counter() - started - took
                matching.set()
                matched, worst = await watcher
            rate = size / took
            assert report["created"] == size, report
            again_started = time.perf_counter()
            again = await import_file(runtime, data, f"bench-{size}.csv", Progress())  # type: ignore[arg-type]
            again_took = time.perf_counter() - again_started
            assert again["unchanged"] == size and again["created"] == again["updated"] == 0, again
            target = IMPORT_100K_TARGET_S if size <= 100_000 else IMPORT_1M_TARGET_S
            verdict = "ok" if took <= target else "FAIL"
            print(f"  import: {took:.1f} s, {rate:,.0f} rows/s (target ≤ {target:.0f} s: {verdict}); "
                  f"COPY {copy_rate:,.0f} rows/s: ratio 1/{copy_rate / rate:,.1f}")  # fmt: skip
            print(f"  peak RSS during the import: {rss_peak:,.0f} MB (this process: {rss_before:,.0f} MB before it, "
                  f"the file {len(data) / 2**20:.0f} MB of it)"
                  + (f" (target ≤ {RSS_1M_TARGET_MB:.0f} MB: {'ok' if rss_peak <= RSS_1M_TARGET_MB else 'FAIL'})"
                     if size > 100_000 else ""))  # fmt: skip
            print(f"  re-import of the same file: {again_took:.1f} s ({size / again_took:,.0f} rows/s), 0 changes")
            if index_after is not None:
                print(f"  matcher index current {index_after:.1f} s after the import (target ≤ {INDEX_TARGET_S:.0f} s: "
                      f"{'ok' if index_after <= INDEX_TARGET_S else 'FAIL'}); {matched} matches answered meanwhile, "
                      f"the slowest in {worst * 1000:.0f} ms")  # fmt: skip
            results.append((size, took, rate, copy_rate, rss_peak, again_took, index_after))
            del data
            gc.collect()
        print("\nsize | import s | rows/s | COPY rows/s | ratio | peak RSS MB | re-import s | index current after s")
        for size, took, rate, copy_rate, rss, again_took, index_after in results:
            shown = f"{index_after:.1f}" if index_after is not None else "—"
            print(f"{size:,} | {took:.1f} | {rate:,.0f} | {copy_rate:,.0f} | 1/{copy_rate / rate:.1f} | {rss:,.0f} | "
                  f"{again_took:.1f} | {shown}")  # fmt: skip
        load = os.getloadavg()
        print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
        await db.dispose()
    finally:
        pg.stop()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="  %(message)s")
    logging.getLogger("services.rules.registry.bulk").setLevel(logging.INFO)  # the phases of each import
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="rows per import, comma-separated")
    args = parser.parse_args()
    asyncio.run(run([int(size) for size in args.sizes.split(",")]))


if __name__ == "__main__":
    main()
