"""Benchmark: the matcher with a 1,000,000-organisation registry.

Prints index build time, peak RSS, and the screening rate of the whole command path (CSV in, CSV
out, one core), then the same queries through a PostgreSQL pg_trgm similarity join on the same
registry (a subset, it being much slower), with the ratio. The pg_trgm part needs `make up`.
"""

from __future__ import annotations

import asyncio
import csv
import random
import resource
import tempfile
import time
from pathlib import Path

from services.rules.matcher.evalset import queries, registry, write_csv
from services.rules.matcher.index import RegistryIndex
from services.rules.matcher.screening import read_registry, screen_files

ORGS = 1_000_000
QUERIES = 200_000
PG_SUBSET = 200  # a pg_trgm join costs tens of milliseconds per query on a million names


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def workload(folder: Path) -> tuple[Path, Path]:
    started = time.perf_counter()
    orgs = registry(ORGS)
    found = queries(orgs, sample=QUERIES // 20)
    random.Random(5).shuffle(found)
    registry_path, input_path = write_csv(orgs, found[:QUERIES], folder)
    print(
        f"generated {ORGS:,} organisations and {min(QUERIES, len(found)):,} queries in {time.perf_counter() - started:.0f}s"
    )
    return registry_path, input_path


async def pg_trgm_rate(registry_path: Path, input_path: Path) -> float | None:
    """Queries per second of a pg_trgm similarity join (best match per query) on the same registry."""
    import asyncpg

    from certwatch import stack
    from shared.settings import data_dir

    env = stack.load_env(data_dir())
    dsn = env.get("CERTWATCH_ADMIN_DATABASE_URL")
    if not dsn:
        return None
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        await conn.execute("DROP TABLE IF EXISTS bench_registry")
        await conn.execute("CREATE UNLOGGED TABLE bench_registry (org_id text, name text)")
        with registry_path.open(encoding="utf-8") as handle:
            rows = [(r["org_id"], r["name"]) for r in csv.DictReader(handle)]
        await conn.copy_records_to_table("bench_registry", records=rows)
        started = time.perf_counter()
        await conn.execute("CREATE INDEX ON bench_registry USING gin (name gin_trgm_ops)")
        print(f"pg_trgm GIN index on {len(rows):,} names built in {time.perf_counter() - started:.0f}s")
        with input_path.open(encoding="utf-8") as handle:
            names = [r["name"] for r, _ in zip(csv.DictReader(handle), range(PG_SUBSET), strict=False)]
        statement = await conn.prepare(
            "SELECT org_id, similarity(name, $1) AS s FROM bench_registry WHERE name % $1 ORDER BY s DESC LIMIT 1"
        )
        started = time.perf_counter()
        for name in names:
            await statement.fetchrow(name)
        return len(names) / (time.perf_counter() - started)
    finally:
        await conn.execute("DROP TABLE IF EXISTS bench_registry")
        await conn.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        registry_path, input_path = workload(Path(tmp))
        started = time.perf_counter()
        index = RegistryIndex.build(read_registry(registry_path))
        build = time.perf_counter() - started
        print(
            f"index build   : {build:.1f} s for {len(index):,} organisations (target <= 30 s)  {'PASS' if build <= 30 else 'FAIL'}"
        )
        started = time.perf_counter()
        summary = screen_files(input_path, Path(tmp) / "out.csv", index=index)
        screening = time.perf_counter() - started
        rate = summary.records / screening
        rss = peak_rss_mb()
        print(
            f"screening     : {summary.records:,} records in {screening:.1f} s = {rate:,.0f} records/s, CSV in and out, "
            f"one core (target >= 40,000)  {'PASS' if rate >= 40_000 else 'FAIL'}"
        )
        print(f"whole command : {build + screening:.1f} s including the index build")
        print(f"decisions     : {summary.decisions}")
        print(f"peak RSS      : {rss:,.0f} MB (target <= 2,048)  {'PASS' if rss <= 2048 else 'FAIL'}")
        try:
            pg_rate = asyncio.run(pg_trgm_rate(registry_path, input_path))
        except Exception as exc:  # no local stack: say so, keep the matcher figures
            pg_rate = None
            print(f"pg_trgm       : not measured ({type(exc).__name__}: {exc}); run `make up` first")
        if pg_rate:
            print(f"pg_trgm join  : {pg_rate:,.0f} records/s on {PG_SUBSET:,} of the same queries")
            print(f"ratio         : the matcher screens {rate / pg_rate:,.0f}x as many records per second")


if __name__ == "__main__":
    main()
