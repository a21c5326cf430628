"""Benchmark: the dashboard's pages with 1,000,000 risk events in reporting's read model (issue 16 §2: the main
page ≤ 300 ms; issue 13 item 5: `/summary` and `/dashboard` at concurrency 16 and 64).

On a private PostgreSQL cluster of its own (in --folder, else a temporary folder; no local stack needed) the bench
migrates reporting's schema, loads the risk events (spread over the last 12 months, most of them decided, one
statutory clock each) with COPY, rebuilds the daily aggregate the consumer keeps (repository.REBUILD_DAILY_TALLIES)
and runs `certwatch serve reporting` on it without consumers. Then, one request at a time (p50/p95/p99 over
--requests after a warm-up): `GET /dashboard` (zh-CN and English), the drill-down lists (a week of one kind, the
open events, the events past their deadline), one event's page, one organisation's page and `/summary`; and at
concurrency 16 and 64 (`--seconds` each): `/summary`, `/dashboard`, and the baseline. The baseline, measured in
the same run on the same cluster: a minimal FastAPI + asyncpg app reading one risk event by key.

With --folder the cluster and its data are kept, and a later run with the same --events reuses them (migrating
them first: a new migration's backfill runs on the loaded rows, as in production).

    .venv/bin/python bench/bench_dashboard.py [--events N] [--requests N] [--seconds S] [--folder DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI, HTTPException, Request

from certwatch.services import folder_of
from certwatch.stack.broker import BrokerHandle, start_broker
from certwatch.stack.postgres import PgHandle, provision_database, start_postgres
from certwatch.stack.processes import free_port, terminate, wait_for_port
from services.reporting.repository import REBUILD_DAILY_TALLIES
from shared.db.migrations import upgrade

TARGET_MS = 300.0
DATABASE = "certwatch_bench_dashboard"
ROLE = "certwatch_reporting"
CONCURRENCY = (16, 64)
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
        await conn.execute("TRUNCATE risk_events, clocks, daily_tallies, tallies")
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
        await conn.execute(REBUILD_TALLIES)
        await conn.execute("VACUUM ANALYZE")  # the visibility map: index-only scans
        tallies = await conn.fetchval("SELECT count(*) FROM daily_tallies")
        log(f"daily aggregate: {tallies:,} rows")
    finally:
        await conn.close()
    return time.perf_counter() - started


# /summary reads `tallies` (what the consumer bumps per event): rebuilt from the rows as the consumer would keep it.
REBUILD_TALLIES = """
INSERT INTO tallies (metric, dimension, value)
SELECT metric, dimension, count(*) FROM (
  SELECT m.metric, m.dimension FROM risk_events CROSS JOIN LATERAL (VALUES ('risk_events', 'all'),
    ('risk_events_by_severity', severity), ('risk_events_by_kind', signal_kind),
    ('risk_events_by_province', coalesce(province, 'unknown'))) AS m(metric, dimension)
  UNION ALL
  SELECT 'risk_events_by_certificate_type', t FROM risk_events
    CROSS JOIN LATERAL unnest(string_to_array(coalesce(nullif(certificate_types, ''), 'none'), ',')) AS t
  UNION ALL
  SELECT 'decisions', decision FROM risk_events WHERE decision IS NOT NULL
) AS facts GROUP BY metric, dimension
"""


class Infra:
    """The private cluster, the bench database, reporting and the minimal app (each its own process)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.password = uuid.uuid4().hex
        self.token = uuid.uuid4().hex
        self.pg: PgHandle | None = None
        self.broker: BrokerHandle | None = None  # the runtime's producer starts with the service
        self.processes: list[subprocess.Popen[bytes]] = []

    def dsn(self, driver: str = "+asyncpg") -> str:
        assert self.pg is not None
        return f"postgresql{driver}://{ROLE}:{self.password}@127.0.0.1:{self.pg.port}/{DATABASE}"

    async def start(self) -> None:
        self.pg = start_postgres(self.folder)
        self.broker = start_broker(self.folder)
        await provision_database(self.pg.admin_dsn, DATABASE, {ROLE: self.password})  # the password reset
        await asyncio.to_thread(upgrade, folder_of("reporting"), self.dsn())

    async def loaded(self) -> int:
        conn = await asyncpg.connect(self.dsn(""), server_settings={"search_path": "reporting"})
        try:
            return int(await conn.fetchval("SELECT count(*) FROM risk_events"))
        finally:
            await conn.close()

    def spawn(self, argv: list[str], env: dict[str, str], name: str, port: int) -> None:
        log_path = self.folder / f"bench-dashboard-{name}.log"
        process = subprocess.Popen(argv, env=env, stdout=log_path.open("ab"), stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
        self.processes.append(process)
        wait_for_port(port, name, log_path, process.pid, 120)

    def serve(self) -> tuple[int, int]:
        """reporting (no consumers, no broker) and the minimal app: their ports."""
        assert self.broker is not None
        reporting, minimal = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CERTWATCH_")} | {
            "CERTWATCH_DATA_DIR": str(self.folder),  # no stack.env: only what is set here
            "CERTWATCH_ENVIRONMENT": "development",
            "CERTWATCH_LOG_LEVEL": "WARNING",
            "CERTWATCH_AUTH_ADMIN_TOKEN": self.token,
            "CERTWATCH_KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap,  # nothing is consumed
            "CERTWATCH_KAFKA_ENABLE_IDEMPOTENCE": "false",
            "CERTWATCH_REPORTING_DATABASE_URL": self.dsn(),
            "CERTWATCH_REPORTING_PORT": str(reporting),
            "CERTWATCH_REPORTING_RUN_CONSUMERS": "false",
        }
        certwatch = str(Path(sys.executable).parent / "certwatch")
        self.spawn([certwatch, "serve", "reporting"], env, "reporting", reporting)
        minimal_env = env | {"BENCH_DASHBOARD_DSN": self.dsn(""), "PYTHONPATH": str(Path(__file__).parents[1])}
        self.spawn([sys.executable, __file__, "--serve-minimal", str(minimal)], minimal_env, "minimal", minimal)
        return reporting, minimal

    def stop(self, keep: bool) -> None:
        for process in self.processes:
            terminate(process.pid)
        if self.broker:
            self.broker.stop()
        if self.pg and not keep:
            self.pg.stop()


def minimal_app(dsn: str) -> Any:
    """FastAPI + an asyncpg pool (the service's pool size, 5) reading one risk event by key: the floor of a read."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        app.state.pool = await asyncpg.create_pool(dsn, min_size=5, max_size=5,
                                                   server_settings={"search_path": "reporting"})  # fmt: skip
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/events/{risk_event_id}")
    async def read_row(risk_event_id: uuid.UUID, request: Request) -> dict[str, Any]:
        row = await request.app.state.pool.fetchrow(
            "SELECT risk_event_id, organisation_name, signal_kind, severity, status, raised_at FROM risk_events "
            "WHERE risk_event_id = $1",
            risk_event_id,
        )
        if row is None:
            raise HTTPException(404)
        return dict(row)

    return app


# --- measuring ------------------------------------------------------------------------------------------------


@dataclass
class Timing:
    latencies: list[float]  # ms
    seconds: float = 0.0
    errors: int = 0

    def at(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else float("nan")

    def line(self, baseline: Timing | None = None) -> str:
        text = f"p50 {self.at(0.5):7.1f} ms   p95 {self.at(0.95):7.1f} ms   p99 {self.at(0.99):7.1f} ms"
        if self.seconds:
            text += f"   {self.rate:7.1f} req/s"
        if baseline is not None:
            text += f"   ×{self.at(0.5) / baseline.at(0.5):5.1f} the baseline's p50"
        return text + (f"   {self.errors} errors" if self.errors else "")


def one_at_a_time(client: httpx.Client, path: str, requests: int, warm_up: int = 3) -> Timing:
    for _ in range(warm_up):
        client.get(path).raise_for_status()
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return Timing(times)


async def concurrently(url: str, headers: dict[str, str], paths: list[str], workers: int, seconds: float) -> Timing:
    """GET the paths in turn from `workers` clients for `seconds` (after one warm-up request each)."""
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=120.0) as client:
        await asyncio.gather(*(client.get(paths[i % len(paths)]) for i in range(workers)))
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + seconds

        async def worker(n: int) -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.get(paths[n % len(paths)])
                    errors += response.status_code != 200
                except httpx.TransportError:  # counted, and shown beside the figures
                    errors += 1
                latencies.append((time.perf_counter() - started) * 1000)
                n += workers

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(workers)))
        return Timing(latencies, time.perf_counter() - started, errors)


async def some_ids(dsn: str) -> tuple[list[uuid.UUID], uuid.UUID, uuid.UUID]:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "reporting"})
    try:
        ids = [r[0] for r in await conn.fetch("SELECT risk_event_id FROM risk_events TABLESAMPLE SYSTEM (1) LIMIT 500")]
        ids = ids or [r[0] for r in await conn.fetch("SELECT risk_event_id FROM risk_events LIMIT 500")]  # a few
        event, organisation = await conn.fetchrow(
            "SELECT risk_event_id, organisation_id FROM risk_events WHERE risk_event_id = $1", ids[0]
        )
        return ids, event, organisation
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30, help="requests per page, one at a time")
    parser.add_argument("--seconds", type=float, default=10.0, help="per page and concurrency level")
    parser.add_argument("--folder", type=Path, help="keep the cluster here, and reuse its data if of the same size")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    folder.mkdir(parents=True, exist_ok=True)
    infra = Infra(folder)
    try:
        asyncio.run(infra.start())
        if asyncio.run(infra.loaded()) == args.events:
            seconds = None
            log(f"reusing the {args.events:,} risk events loaded in {folder}")
        else:
            seconds = asyncio.run(load(infra.dsn(""), args.events))
        ids, event, organisation = asyncio.run(some_ids(infra.dsn("")))
        port, minimal = infra.serve()
        base, floor = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{minimal}"
        headers = {"Authorization": f"Bearer {infra.token}"}
        week = (date.today() - timedelta(days=date.today().weekday() + 7 * 10)).isoformat()
        pages = {
            "GET /dashboard": "/dashboard",
            "GET /dashboard?lang=en": "/dashboard?lang=en",
            "GET /dashboard/events (a week, a kind)": f"/dashboard/events?kind=spot_check_failure&week={week}",
            "GET /dashboard/events?status=open": "/dashboard/events?status=open",
            "GET /dashboard/events?status=overdue": "/dashboard/events?status=overdue",
            "GET /dashboard/events/{id}": f"/dashboard/events/{event}",
            "GET /dashboard/organisations/{id}": f"/dashboard/organisations/{organisation}",
            "GET /summary": "/summary",
        }
        with httpx.Client(base_url=floor, timeout=60) as client:
            baseline = one_at_a_time(client, f"/events/{ids[0]}", args.requests * 3)
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            sequential = {name: one_at_a_time(client, path, args.requests) for name, path in pages.items()}
        loaded: dict[tuple[str, int], Timing] = {}
        for workers in CONCURRENCY:
            floor_paths = [f"/events/{i}" for i in ids]
            loaded[("baseline", workers)] = asyncio.run(concurrently(floor, {}, floor_paths, workers, args.seconds))
            for name in ("/summary", "/dashboard"):
                loaded[(name, workers)] = asyncio.run(concurrently(base, headers, [name], workers, args.seconds))
    finally:
        infra.stop(keep=args.folder is not None)
        if args.folder is None:  # the cluster was the bench's alone
            shutil.rmtree(folder, ignore_errors=True)
    _print(args, seconds, baseline, sequential, loaded)


def _print(args: Any, seconds: float | None, baseline: Timing, sequential: dict[str, Timing],
           loaded: dict[tuple[str, int], Timing]) -> None:  # fmt: skip
    main_page = sequential["GET /dashboard"]
    verdict = "within" if main_page.at(0.5) <= TARGET_MS and main_page.at(0.95) <= TARGET_MS else "OVER"
    made = f"loaded and aggregated in {seconds:.0f} s" if seconds is not None else "reused"
    print(f"\nreporting with {args.events:,} risk events ({made}); load average {os.getloadavg()[0]:.1f}, "
          f"{os.cpu_count()} cores")  # fmt: skip
    print(f"one request at a time ({args.requests} each, after 3 to warm up):")
    print(f"  {'baseline: FastAPI + asyncpg, one row':40} {baseline.line()}")
    for name, timing in sequential.items():
        print(f"  {name:40} {timing.line(baseline)}")
    print(f"  GET /dashboard: {verdict} the {TARGET_MS:.0f} ms target (p50 and p95)")
    for workers in CONCURRENCY:
        floor = loaded[("baseline", workers)]
        print(f"concurrency {workers} ({args.seconds:.0f} s each):")
        print(f"  {'baseline: FastAPI + asyncpg, one row':40} {floor.line()}")
        for name in ("/summary", "/dashboard"):
            print(f"  {'GET ' + name:40} {loaded[(name, workers)].line(floor)}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-minimal"]:
        import uvicorn

        uvicorn.run(minimal_app(os.environ["BENCH_DASHBOARD_DSN"]), host="127.0.0.1", port=int(sys.argv[2]),
                    log_level="warning")  # fmt: skip
    else:
        main()
