"""Benchmark: the dashboard's main page with 1,000,000 risk events in reporting's read model (issue 16 §2:
≤ 300 ms).

On the local stack's PostgreSQL (`certwatch up`; its data is left alone) the bench creates a database of its
own, migrates reporting's schema into it, loads the risk events (spread over the last 12 months, most of them
decided, one statutory clock each) with COPY, rebuilds the daily aggregate the consumer keeps
(repository.REBUILD_DAILY_TALLIES) and runs `certwatch serve reporting` on it without consumers. Then it times
`GET /dashboard` (p50/p95 over --requests, after a few to warm up) and, for the record, one drill-down list and
one organisation's page. The database is dropped at the end unless --keep.

    .venv/bin/python bench/bench_dashboard.py [--events N] [--requests N] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from certwatch import stack
from certwatch.services import folder_of
from services.reporting.repository import REBUILD_DAILY_TALLIES
from shared.db.migrations import upgrade

TARGET_MS = 300.0
DATABASE = "certwatch_bench_dashboard"
ROLE = "certwatch_reporting"
KINDS = [("spot_check_failure", 40), ("food_spot_check_failure", 20), ("abnormal_operation_listed", 15),
         ("serious_illegal_listed", 4), ("licence_revoked", 3), ("ccc_suspended", 4), ("recall", 4),
         ("quality_accident", 1), ("ccc_withdrawn", 2), ("licence_suspended", 2)]  # fmt: skip
PROVINCES = ["浙江", "广东", "江苏", "山东", "福建", "河北", "上海", "北京", "四川", "湖北", "河南", "安徽", None]
SEVERITIES = [("low", 30), ("medium", 40), ("high", 25), ("critical", 5)]
MEASURES = ["special_audit", "suspend", "withdraw", "corrective_action", "request_explanation"]
EVENT_COLUMNS = ["risk_event_id", "organisation_id", "organisation_name", "signal_kind", "severity", "province",
                 "certificate_types", "recommended_measure", "status", "decision", "decision_due", "raised_at",
                 "decided_at", "decided_by", "closed_at", "signal_id", "rule_id", "title", "summary", "match_method",
                 "match_score", "match_explanation", "certificates"]  # fmt: skip
CLOCK_COLUMNS = ["clock_id", "risk_event_id", "kind", "basis_document", "basis_article", "starts_on", "due_on", "state",
                 "ended_on", "ended_by", "provisional", "signal_published_on"]  # fmt: skip


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def rows(count: int, organisations: int, seed: int = 16) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """(risk event, clock) rows: raised over the last 365 days, 85% decided within 1–20 days."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    kinds, kind_weights = zip(*KINDS, strict=True)
    severities, severity_weights = zip(*SEVERITIES, strict=True)
    orgs = [(uuid.UUID(int=rng.getrandbits(128)), f"基准企业{i:07d}有限公司") for i in range(organisations)]
    for _ in range(count):
        org_id, name = orgs[rng.randrange(organisations)]
        raised = now - timedelta(seconds=rng.randrange(365 * 86400))
        due = (raised + timedelta(days=15)).date()
        kind = rng.choices(kinds, kind_weights)[0]
        measure = rng.choice(MEASURES)
        decided = raised + timedelta(days=rng.randint(1, 20)) if rng.random() < 0.85 else None
        if decided and decided > now:
            decided = None
        status = ("closed" if rng.random() < 0.3 else "decided") if decided else rng.choice(["open", "in_review"])
        event_id = uuid.UUID(int=rng.getrandbits(128))
        yield (
            (event_id, org_id, name, kind, rng.choices(severities, severity_weights)[0], rng.choice(PROVINCES),
             rng.choice(["CCC", "QMS", "CCC,QMS", ""]), measure, status, measure if decided else None, due, raised,
             decided, "dm-bench" if decided else None, decided if status == "closed" else None,
             uuid.UUID(int=rng.getrandbits(128)), "r-bench", f"{name}：{kind}", "基准数据", "credit_code", 1.0,
             "统一社会信用代码一致", "C-1 CCC valid"),
            (uuid.UUID(int=rng.getrandbits(128)), event_id, "suspension", "认证机构管理办法", "第二十一条",
             raised.date(), due, "met" if decided else "running", decided.date() if decided else None,
             "suspend" if decided else None, False, raised.date() - timedelta(days=rng.randint(0, 10))),
        )  # fmt: skip


async def load(dsn: str, count: int) -> float:
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "reporting"})
    try:
        await conn.execute("TRUNCATE risk_events, clocks, daily_tallies")
        batch: list[tuple[Any, ...]] = []
        clocks: list[tuple[Any, ...]] = []
        for event, clock in rows(count, max(count // 5, 1)):
            batch.append(event)
            clocks.append(clock)
            if len(batch) == 50_000:
                await conn.copy_records_to_table("risk_events", records=batch, columns=EVENT_COLUMNS)
                await conn.copy_records_to_table("clocks", records=clocks, columns=CLOCK_COLUMNS)
                batch, clocks = [], []
        if batch:
            await conn.copy_records_to_table("risk_events", records=batch, columns=EVENT_COLUMNS)
            await conn.copy_records_to_table("clocks", records=clocks, columns=CLOCK_COLUMNS)
        log(
            f"loaded {count:,} risk events and clocks in {time.perf_counter() - started:.1f}s; rebuilding the aggregate"
        )
        await conn.execute(REBUILD_DAILY_TALLIES)
        await conn.execute("VACUUM ANALYZE")  # the visibility map: index-only scans
        tallies = await conn.fetchval("SELECT count(*) FROM daily_tallies")
        log(f"daily aggregate: {tallies:,} rows")
    finally:
        await conn.close()
    return time.perf_counter() - started


def serve(env: dict[str, str], dsn: str, folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = stack.free_port()
    mine = (
        {k: v for k, v in os.environ.items() if not k.startswith("CERTWATCH_")}
        | env
        | {
            "CERTWATCH_REPORTING_DATABASE_URL": dsn,
            "CERTWATCH_REPORTING_PORT": str(port),
            "CERTWATCH_REPORTING_RUN_CONSUMERS": "false",  # the stack's broker is the stack's reporting's
            "CERTWATCH_REPORTING_CONSUMER_GROUP": "certwatch-bench-dashboard",
        }
    )
    log_path = folder / "bench-dashboard-reporting.log"
    certwatch = str(Path(sys.executable).parent / "certwatch")
    process = subprocess.Popen([certwatch, "serve", "reporting"], env=mine, stdout=log_path.open("ab"),
                               stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    stack.wait_for_port(port, "reporting", log_path, process.pid, 120)
    return process, port


def timed(client: httpx.Client, path: str, requests: int, warm_up: int = 3) -> list[float]:
    for _ in range(warm_up):
        client.get(path).raise_for_status()
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return times


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("CERTWATCH_DATA_DIR", ".data")))
    args = parser.parse_args()
    env = stack.read_env(args.data_dir)
    if not env:
        sys.exit("the local stack is not up: run `.venv/bin/certwatch up` (make bench does)")
    admin = stack.with_database(env["CERTWATCH_ADMIN_DATABASE_URL"], "postgres")
    password = stack.role_passwords(args.data_dir)["reporting"]
    dsn = stack.with_database(env["CERTWATCH_REPORTING_DATABASE_URL"], DATABASE)
    asyncio.run(stack.provision_database(admin, DATABASE, {ROLE: password}))
    upgrade(folder_of("reporting"), dsn)
    seconds = asyncio.run(load(dsn.replace("postgresql+asyncpg://", "postgresql://"), args.events))
    process, port = serve(env, dsn, args.data_dir)
    try:
        headers = {"Authorization": f"Bearer {env['CERTWATCH_AUTH_ADMIN_TOKEN']}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as client:
            main_page = percentiles(timed(client, "/dashboard", args.requests))
            week = (date.today() - timedelta(days=date.today().weekday() + 7 * 10)).isoformat()
            listing = percentiles(timed(client, f"/dashboard/events?kind=spot_check_failure&week={week}", 5, 1))
            english = percentiles(timed(client, "/dashboard?lang=en", 5, 1))
    finally:
        stack.terminate(process.pid)
        if not args.keep:
            asyncio.run(_drop(admin))
    verdict = "within" if main_page[1] <= TARGET_MS else "OVER"
    print(f"\ndashboard with {args.events:,} risk events (loaded and aggregated in {seconds:.0f}s)")
    print(f"  GET /dashboard            p50 {main_page[0]:7.1f} ms   p95 {main_page[1]:7.1f} ms   "
          f"({args.requests} requests; {verdict} the {TARGET_MS:.0f} ms target)")  # fmt: skip
    print(f"  GET /dashboard?lang=en    p50 {english[0]:7.1f} ms   p95 {english[1]:7.1f} ms   (5 requests)")
    print(f"  GET /dashboard/events     p50 {listing[0]:7.1f} ms   p95 {listing[1]:7.1f} ms   (a week of one kind, 5)")


async def _drop(admin: str) -> None:
    conn = await asyncpg.connect(admin.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
