"""Benchmark: the matcher with a 1,000,000-organisation registry.

Prints index build time, peak RSS, and the screening rate of the whole command path (CSV in, CSV
out, one core; the best of five runs, each shown with what other processes used meanwhile), then
the same queries through a PostgreSQL pg_trgm similarity join on the same registry (a subset, it
being much slower), with the ratio. The pg_trgm part needs `make up`.

The matcher is measured twice, each in a fresh process: with its structured candidate path only and
with the character n-gram path too (issue 11; `--ngrams on|off|both`, both by default), so what the
second path costs is shown beside what it is measured against.

    .venv/bin/python bench/bench_matching.py [--ngrams on|off|both] [--runs N] [--no-pg]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import csv
import multiprocessing
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

from certwatch.demo.evalset import queries, registry, write_csv
from services.rules.matcher.index import RegistryIndex
from services.rules.matcher.screening import ScreenSummary, read_registry, screen_files

ORGS = 1_000_000
QUERIES = 200_000
PG_SUBSET = 200  # a pg_trgm join costs tens of milliseconds per query on a million names
# Issue 11's targets at a 1,000,000-organisation registry.
BUILD_TARGET = 15.0  # seconds
RATE_TARGET = 60_000  # records/s, one core
RSS_TARGET = 2_048  # MB


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


BENCH_DB = "certwatch_bench_trgm"


class PgTrgm(NamedTuple):
    rate: float  # queries per second
    queries: int
    right: int  # best hit is the expected organisation
    wrong: int  # best hit is another organisation


async def pg_trgm_join(registry_path: Path, input_path: Path) -> PgTrgm | None:
    """A pg_trgm similarity join (best match per query) on the same registry and queries.

    pg_trgm only makes trigrams of characters its database's LC_CTYPE calls alphanumeric: in the
    local stack's C-locale databases a Chinese name has none (show_trgm gives {}), so the join runs
    in a throwaway database with a UTF-8 ctype.
    """
    import asyncpg

    from certwatch import stack
    from shared.settings import data_dir

    dsn = stack.load_env(data_dir()).get("CERTWATCH_ADMIN_DATABASE_URL")
    if not dsn:
        return None
    dsn = dsn.replace("+asyncpg", "")
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        await admin.execute(
            f"CREATE DATABASE {BENCH_DB} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.utf8' LC_CTYPE 'C.utf8'"
        )
        conn = await asyncpg.connect(dsn.rsplit("/", 1)[0] + "/" + BENCH_DB)
        try:
            return await _join(conn, registry_path, input_path)
        finally:
            await conn.close()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        await admin.close()


async def _join(conn: Any, registry_path: Path, input_path: Path) -> PgTrgm:
    await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    assert await conn.fetchval("SELECT show_trgm('宁波市江北区美达电器有限公司') <> '{}'"), "pg_trgm sees no trigrams"
    await conn.execute("CREATE UNLOGGED TABLE bench_registry (org_id text, name text)")
    with registry_path.open(encoding="utf-8") as handle:
        rows = [(r["org_id"], r["name"]) for r in csv.DictReader(handle)]
    await conn.copy_records_to_table("bench_registry", records=rows)
    started = time.perf_counter()
    await conn.execute("CREATE INDEX ON bench_registry USING gin (name gin_trgm_ops)")
    await conn.execute("ANALYZE bench_registry")
    print(f"pg_trgm GIN index on {len(rows):,} names built in {time.perf_counter() - started:.0f}s")
    with input_path.open(encoding="utf-8") as handle:
        subset = [
            (r["name"], r["expected_org_id"]) for r, _ in zip(csv.DictReader(handle), range(PG_SUBSET), strict=False)
        ]
    statement = await conn.prepare(
        "SELECT org_id FROM bench_registry WHERE name % $1 ORDER BY similarity(name, $1) DESC LIMIT 1"
    )
    right = wrong = 0
    started = time.perf_counter()
    for name, expected in subset:
        found = await statement.fetchval(name)
        if found is not None:
            right, wrong = (right + 1, wrong) if found == expected else (right, wrong + 1)
    rate = len(subset) / (time.perf_counter() - started)
    return PgTrgm(rate, len(subset), right, wrong)


def _matcher_on_subset(input_path: Path, output_path: Path, count: int) -> str:
    """The matcher's verdicts on the first `count` queries, counted as the pg_trgm join's are."""
    with input_path.open(encoding="utf-8") as inp, output_path.open(encoding="utf-8") as out:
        pairs = list(zip(csv.DictReader(inp), csv.DictReader(out), range(count), strict=False))
    right = sum(1 for q, r, _ in pairs if r["decision"] == "match" and r["org_id"] == q["expected_org_id"])
    wrong = sum(1 for q, r, _ in pairs if r["decision"] == "match" and r["org_id"] != q["expected_org_id"])
    review = sum(1 for _, r, _ in pairs if r["decision"] == "review")
    return f"matched right {right}, wrong {wrong}; {review} for review; {len(pairs) - right - wrong - review} none"


RUNS = 5


class Screened(NamedTuple):
    summary: ScreenSummary
    wall: float
    cpu: float
    others: float  # CPU other processes used meanwhile, in cores


def measure(
    registry_path: Path, input_path: Path, output_path: Path, ngrams: bool = True, runs: int = RUNS
) -> tuple[float, float, int, list[Screened], float]:
    """Build the index, then screen the input file `runs` times: (build s, build CPU s, organisations, runs,
    peak RSS MB). The best run is the figure, as timeit reports it: the machine is shared, and a busy
    neighbour on the other core slows this one. Every run is shown with what other processes used.
    `ngrams`: with the n-gram candidate path (the default) or without it."""
    started, cpu = time.perf_counter(), time.process_time()
    index = RegistryIndex.build(read_registry(registry_path), ngrams=ngrams)
    build, build_cpu = time.perf_counter() - started, time.process_time() - cpu
    screened = [_screen(input_path, output_path, index) for _ in range(runs)]
    return build, build_cpu, len(index), screened, peak_rss_mb()


def _screen(input_path: Path, output_path: Path, index: RegistryIndex) -> Screened:
    busy, started, cpu = machine_busy(), time.perf_counter(), time.process_time()
    summary = screen_files(input_path, output_path, index=index)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Screened(summary, wall, cpu, max(0.0, (machine_busy() - busy - cpu) / wall))


def run_command(registry_path: Path, input_path: Path, output_path: Path) -> tuple[float, float]:
    """The command itself, as a user runs it: (seconds from start to exit, peak RSS MB of the process)."""
    command = [str(Path(sys.executable).with_name("certwatch")), "screen", "--input", str(input_path)]
    command += ["--output", str(output_path), "--registry", str(registry_path)]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(process.pid, 0)  # this process's own resource use, not all children's
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    return elapsed, usage.ru_maxrss / 1024


def _wall(run: Screened) -> float:
    return run.wall


def machine_busy() -> float:
    """Seconds of CPU the whole machine has used since boot (all processes), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, stat.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(label: str, measured: tuple[float, float, int, list[Screened], float]) -> Screened:
    """Print one configuration's figures against the targets; returns its best run."""
    build, build_cpu, organisations, runs, rss = measured
    print(f"--- {label}")
    # Wall time is what the targets are about; CPU time beside it shows what a noisy neighbour took.
    print(
        f"index build   : {build:.1f} s ({build_cpu:.1f} s CPU) for {organisations:,} organisations "
        f"(target <= {BUILD_TARGET:.0f} s)  {_verdict(build <= BUILD_TARGET)}"
    )
    best = min(runs, key=_wall)
    summary, screening = best.summary, best.wall
    rate = summary.records / screening
    print(
        f"screening     : {summary.records:,} records in {screening:.1f} s ({best.cpu:.1f} s CPU) = "
        f"{rate:,.0f} records/s, CSV in and out, one core, best of {len(runs)} (target >= {RATE_TARGET:,})  "
        f"{_verdict(rate >= RATE_TARGET)}"
    )
    rates = sorted(summary.records / r.wall for r in runs)
    print(f"  median run  : {rates[len(rates) // 2]:,.0f} records/s; slowest {rates[0]:,.0f}")
    print(
        "  each run    : "
        + "; ".join(f"{summary.records / r.wall:,.0f}/s, other processes {r.others:.0%} of a core" for r in runs)
    )
    print(f"decisions     : {summary.decisions}")
    print(
        f"peak RSS      : {rss:,.0f} MB, the screening process (target <= {RSS_TARGET:,})  {_verdict(rss <= RSS_TARGET)}"
    )
    return best


def main() -> None:
    import services.rules.matcher.index as matcher
    from shared.compiled import is_compiled

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ngrams", choices=("on", "off", "both"), default="both")
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--no-pg", action="store_true", help="leave the pg_trgm comparison out")
    args = parser.parse_args()
    how = "compiled with Cython" if is_compiled(matcher) else "the Python source (run `make install` to compile it)"
    print(f"matcher       : {how}")
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.ngrams]
    with tempfile.TemporaryDirectory() as tmp:
        registry_path, input_path = workload(Path(tmp))
        best: Screened | None = None
        for ngrams in modes:
            # Each configuration runs in a fresh process, as `certwatch screen` does: in this one, the index
            # would be built among the holes the generator's million objects left, and matched a fifth slower.
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                measured = pool.submit(
                    measure, registry_path, input_path, Path(tmp) / "out.csv", ngrams, args.runs
                ).result()
            label = "with the n-gram path (structured + n-grams)" if ngrams else "structured path only (no n-grams)"
            best = report(label, measured)
        assert best is not None
        summary = best.summary
        rate = summary.records / best.wall
        cli, cli_rss = run_command(registry_path, input_path, Path(tmp) / "cli-out.csv")
        print(
            f"certwatch screen --registry: {cli:.1f} s from start to exit, reading the registry and building the index "
            f"included ({summary.records / cli:,.0f} records/s over the whole run), peak RSS {cli_rss:,.0f} MB"
        )
        if args.no_pg:
            return
        try:
            pg = asyncio.run(pg_trgm_join(registry_path, input_path))
        except Exception as exc:  # no local stack: say so, keep the matcher figures
            print(f"pg_trgm       : not measured ({type(exc).__name__}: {exc}); run `make up` first")
            return
        if pg is None:
            print(
                "pg_trgm       : not measured (no admin database URL in the stack's environment); run `make up` first"
            )
        else:
            print(
                f"pg_trgm join  : {pg.rate:,.1f} records/s on {pg.queries:,} of the same queries; best hit right "
                f"{pg.right}, wrong {pg.wrong}, none {pg.queries - pg.right - pg.wrong} (no score, no evidence)"
            )
            print(f"ratio         : the matcher screens {rate / pg.rate:,.0f}x as many records per second")
            print(
                f"same {pg.queries} by the matcher: {_matcher_on_subset(input_path, Path(tmp) / 'out.csv', pg.queries)}"
            )


if __name__ == "__main__":
    main()
