"""Benchmark: API latency with 1,000,000 risk events in rules' and in reporting's read models, while the
services' consumers work off a backlog (issue 13 item 5: p99 at concurrency 64 ≤ 25 ms for reads by id and
≤ 100 ms for filtered lists, each within 3× a minimal FastAPI + asyncpg app reading one row by key).

On a private PostgreSQL cluster and broker of its own (in --folder, else a temporary folder; no local stack
needed) the bench migrates rules' and reporting's schemas and fills them: rules' registry (--organisations,
with COPY), its risk events with one statutory clock each, and reporting's risk events, clocks and tallies
(made inside PostgreSQL with generate_series). Then, once per layout:

- `split`: rules and reporting each as an api process and a worker process (`certwatch serve … --role`);
- `all`: each as one process doing both (the layout before issue 13),

it puts a backlog on the broker (--signals signals for rules to match, --raised risk events for reporting to
count), starts the services, and while their consumers work measures, at concurrency 16 and 64 (--seconds
each; one httpx client with that many connections, each request sent when the previous returned): `GET /risk-events/{id}`, `GET /risk-events` filtered (status
or severity, page 1) and paged (the same filters at offset 500), reporting's `/summary` and `/dashboard`, and
the minimal app (bench_dashboard.minimal_app, on the same cluster). It prints p50, p95, p99, req/s, the ratio
of p99 to the baseline's, and what the consumers did meanwhile (so a quiet worker is never mistaken for a
busy one).

    .venv/bin/python bench/bench_api.py [--events N] [--organisations N] [--signals N] [--raised N]
        [--seconds S] [--layouts split,all] [--folder DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import bench_dashboard as dash

from certwatch.services import folder_of
from certwatch.stack.broker import BrokerHandle, start_broker
from certwatch.stack.postgres import PgHandle, provision_database, start_postgres
from certwatch.stack.processes import free_port, terminate, wait_for_port
from shared.contracts import Envelope, Topic, deterministic_id
from shared.contracts.ingest import Product, SignalKind, SignalReceived, Subject
from shared.contracts.rules import MatchDecision, MatchSummary, Measure, RiskEventRaisedV2, Severity
from shared.db.migrations import upgrade
from shared.identifiers import make_uscc

DATABASE = "certwatch_bench_api"
ROLES = ("rules", "reporting")
CONCURRENCY = (16, 64)
BY_ID_P99_MS, LIST_P99_MS, BASELINE_RATIO = 25.0, 100.0, 3.0
REGIONS = ["330212", "440606", "320583", "370102", "350203", "130104"]
log = dash.log


def organisation_id(index: int) -> uuid.UUID:
    """The id of bench organisation `index`; the SQL below derives the same (md5 of the same text)."""
    return uuid.UUID(hashlib.md5(f"bench-org-{index}".encode()).hexdigest())


def organisations(count: int) -> list[tuple[Any, ...]]:
    """The registry: valid credit codes (rules matches the backlog's signals by them), names as in the SQL."""
    return [
        (organisation_id(i), f"BENCH-{i:07d}", f"基准{i:07d}电器制造有限公司",
         make_uscc(REGIONS[i % len(REGIONS)], f"B{i:07d}"), "浙江", "宁波", [], "[]", 1)
        for i in range(count)
    ]  # fmt: skip


ORG_COLUMNS = ["id", "external_ref", "name", "credit_code", "province", "city", "former_names", "sites", "revision"]

# Rows made inside PostgreSQL (generate_series): on a busy 2-core machine, a million rows built in Python and
# sent with COPY took minutes of CPU the bench did not get. Raised over the last 365 days; statuses 10 % open,
# 5 % in review, 55 % decided, 30 % closed; severities 30/40/25/5 %; one statutory clock per event.
DRAWS = """
  SELECT g, ((g::bigint * 7919) % $2)::int AS o, now() - random() * interval '365 days' AS raised, random() AS r, random() AS s,
         (ARRAY['spot_check_failure', 'food_spot_check_failure', 'abnormal_operation_listed', 'recall',
                'licence_revoked'])[1 + floor(random() * 5)::int] AS kind
  FROM generate_series(1, $1) AS g
"""
STATUS = "CASE WHEN r < 0.10 THEN 'open' WHEN r < 0.15 THEN 'in_review' WHEN r < 0.70 THEN 'decided' ELSE 'closed' END"
SEVERITY = "CASE WHEN s < 0.30 THEN 'low' WHEN s < 0.70 THEN 'medium' WHEN s < 0.95 THEN 'high' ELSE 'critical' END"
NAME = "'基准' || lpad(o::text, 7, '0') || '电器制造有限公司'"
RULES_EVENTS = f"""
INSERT INTO risk_events (id, organisation_id, signal_id, signal_kind, signal, rule_id, rule_version, severity,
  recommended_measure, status, title, summary, decision_due, match, assigned_to, decision, created_at, updated_at)
SELECT md5('bench-event-' || g)::uuid, md5('bench-org-' || o)::uuid, md5('bench-signal-' || g)::uuid, kind,
  jsonb_build_object('signal_id', md5('bench-signal-' || g)::uuid, 'feed', 'samr', 'kind', kind,
                     'subject', jsonb_build_object('name', {NAME}), 'product', jsonb_build_object('name', '充电器')),
  'r-bench', 1, {SEVERITY}, 'suspend', status, {NAME} || '：' || kind, '基准数据', (raised + interval '15 days')::date,
  '{{"score": 1.0, "decision": "match", "method": "credit_code", "explanation": "统一社会信用代码一致"}}'::jsonb,
  CASE WHEN status = 'in_review' THEN 'reviewer-li' END, CASE WHEN status IN ('decided', 'closed') THEN 'suspend' END,
  raised, raised
FROM (SELECT *, {STATUS} AS status FROM ({DRAWS}) AS draws) AS d
"""
RULES_CLOCKS = """
INSERT INTO clocks (id, risk_event_id, kind, basis, starts_on, length, unit, due_on, state, ended_on, ended_by,
  provisional, created_at)
SELECT md5('bench-clock-' || id)::uuid, id, 'suspension',
  '{"document": "认证机构管理办法", "article": "第二十一条", "requirement": "暂停"}'::jsonb, created_at::date, 15,
  'working_days', decision_due, CASE WHEN decision IS NULL THEN 'running' ELSE 'met' END,
  CASE WHEN decision IS NOT NULL THEN decision_due END, decision, false, created_at
FROM risk_events
"""
REPORTING_EVENTS = f"""
INSERT INTO risk_events (risk_event_id, organisation_id, organisation_name, signal_kind, severity, province,
  certificate_types, recommended_measure, status, decision, decision_due, raised_at, decided_at, decided_by,
  closed_at, signal_id, rule_id, title, summary, match_method, match_score, match_explanation, certificates)
SELECT md5('bench-event-' || g)::uuid, md5('bench-org-' || o)::uuid, {NAME}, kind, {SEVERITY},
  (ARRAY['浙江', '广东', '江苏', '山东', '福建', NULL])[1 + (g % 6)], (ARRAY['CCC', 'QMS', 'CCC,QMS', ''])[1 + (g % 4)],
  'suspend', status, CASE WHEN status IN ('decided', 'closed') THEN 'suspend' END, (raised + interval '15 days')::date,
  raised, CASE WHEN status IN ('decided', 'closed') THEN raised + (1 + g % 20) * interval '1 day' END,
  CASE WHEN status IN ('decided', 'closed') THEN 'dm-bench' END,
  CASE WHEN status = 'closed' THEN raised + (1 + g % 20) * interval '1 day' END, md5('bench-signal-' || g)::uuid,
  'r-bench', {NAME} || '：' || kind, '基准数据', 'credit_code', 1.0, '统一社会信用代码一致', 'C-1 CCC valid'
FROM (SELECT *, {STATUS} AS status FROM ({DRAWS}) AS draws) AS d
"""
REPORTING_CLOCKS = """
INSERT INTO clocks (clock_id, risk_event_id, kind, basis_document, basis_article, starts_on, due_on, state, ended_on,
  ended_by, provisional, signal_published_on)
SELECT md5('bench-clock-' || risk_event_id)::uuid, risk_event_id, 'suspension', '认证机构管理办法', '第二十一条',
  raised_at::date, decision_due, CASE WHEN decided_at IS NULL THEN 'running' ELSE 'met' END, decided_at::date,
  CASE WHEN decided_at IS NOT NULL THEN 'suspend' END, false, raised_at::date
FROM risk_events
"""


async def load(infra: Infra, count: int, orgs: list[tuple[Any, ...]]) -> float:
    """Both read models: rules' registry, risk events and clocks; reporting's risk events, clocks and tallies."""
    started = time.perf_counter()
    rules = await asyncpg.connect(infra.dsn("rules", ""), server_settings={"search_path": "rules"})
    try:
        await rules.execute("TRUNCATE organisations, risk_events, clocks CASCADE")
        await rules.copy_records_to_table("organisations", records=orgs, columns=ORG_COLUMNS)
        await rules.execute(RULES_EVENTS, count, len(orgs))
        await rules.execute(RULES_CLOCKS)
        await rules.execute("VACUUM ANALYZE")
    finally:
        await rules.close()
    log(f"rules: {count:,} risk events and clocks in {time.perf_counter() - started:.0f} s")
    reporting = await asyncpg.connect(infra.dsn("reporting", ""), server_settings={"search_path": "reporting"})
    try:
        await reporting.execute("TRUNCATE risk_events, clocks, daily_tallies, tallies")
        await reporting.execute(REPORTING_EVENTS, count, len(orgs))
        await reporting.execute(REPORTING_CLOCKS)
        await reporting.execute(dash.REBUILD_DAILY_TALLIES)
        await reporting.execute(dash.REBUILD_TALLIES)
        await reporting.execute("VACUUM ANALYZE")
    finally:
        await reporting.close()
    return time.perf_counter() - started


async def count_rows(dsn: str, schema: str, table: str) -> int:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


async def sample(dsn: str) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Risk event ids (a 1% sample) and organisation ids of rules' read model."""
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "rules"})
    try:
        events = [r[0] for r in await conn.fetch("SELECT id FROM risk_events TABLESAMPLE SYSTEM (1) LIMIT 500")]
        orgs = [
            r[0] for r in await conn.fetch("SELECT organisation_id FROM risk_events TABLESAMPLE SYSTEM (1) LIMIT 50")
        ]
        return events, orgs
    finally:
        await conn.close()


async def backlog(bootstrap: str, orgs: list[tuple[Any, ...]], signals: int, raised: int, run: str) -> float:
    """Signals naming registered organisations (rules matches them by credit code and name) and risk events
    raised (reporting counts them), on the broker before the services start."""
    from aiokafka import AIOKafkaProducer

    started = time.perf_counter()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, enable_idempotence=False)
    await producer.start()
    try:
        rng = random.Random(run)
        pending = []
        for n in range(signals):
            _, _, name, code, *_ = orgs[rng.randrange(len(orgs))]
            payload = SignalReceived(
                signal_id=uuid.uuid4(), feed="samr", kind=SignalKind.SPOT_CHECK_FAILURE,
                subject=Subject(name=name, credit_code=code), product=Product(name=f"充电器 批次{run}-{n}"),
            )  # fmt: skip
            envelope = Envelope[SignalReceived](
                event_id=deterministic_id("signal-received", payload.signal_id),
                event_type=Topic.SIGNAL_RECEIVED.event_type, producer="ingest", payload=payload,
            )  # fmt: skip
            pending.append(await producer.send(Topic.SIGNAL_RECEIVED.value, envelope.model_dump_json().encode(),
                                               key=str(payload.signal_id).encode()))  # fmt: skip
        for _ in range(raised):
            org_id, _, name, *_ = orgs[rng.randrange(len(orgs))]
            event = RiskEventRaisedV2(
                risk_event_id=uuid.uuid4(), organisation_id=org_id, organisation_name=name, signal_id=uuid.uuid4(),
                signal_kind=SignalKind.SPOT_CHECK_FAILURE, rule_id="r-bench", rule_version=1, severity=Severity.HIGH,
                recommended_measure=Measure.SPECIAL_AUDIT, title=f"{name}：抽查不合格", summary="基准数据",
                match=MatchSummary(score=1, decision=MatchDecision.MATCH, method="credit_code", explanation="code"),
                raised_at=datetime.now(UTC),
            )  # fmt: skip
            raised_envelope = Envelope[RiskEventRaisedV2](
                event_id=deterministic_id("risk-event-raised.v2", event.risk_event_id),
                event_type=Topic.RISK_EVENT_RAISED_V2.event_type, producer="rules", payload=event,
            )  # fmt: skip
            pending.append(
                await producer.send(
                    Topic.RISK_EVENT_RAISED_V2.value,
                    raised_envelope.model_dump_json().encode(),
                    key=str(org_id).encode(),
                )
            )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


class Infra:
    """The private cluster and broker, the services' processes and the minimal app."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.passwords = {role: uuid.uuid4().hex for role in ROLES}
        self.token = uuid.uuid4().hex
        self.pg: PgHandle | None = None
        self.broker: BrokerHandle | None = None
        self.processes: list[subprocess.Popen[bytes]] = []  # the services of the layout measured
        self.minimal: subprocess.Popen[bytes] | None = None
        self.ports: dict[str, int] = {}

    def dsn(self, role: str, driver: str = "+asyncpg") -> str:
        assert self.pg is not None
        return f"postgresql{driver}://certwatch_{role}:{self.passwords[role]}@127.0.0.1:{self.pg.port}/{DATABASE}"

    async def start(self) -> None:
        self.pg = start_postgres(self.folder)
        self.broker = start_broker(self.folder)
        roles = {f"certwatch_{role}": password for role, password in self.passwords.items()}
        await provision_database(self.pg.admin_dsn, DATABASE, roles)
        for role in ROLES:
            await asyncio.to_thread(upgrade, folder_of(role), self.dsn(role))
        certwatch = str(Path(sys.executable).parent / "certwatch")
        argv = [certwatch, "kafka", "ensure-topics"]
        await asyncio.to_thread(subprocess.run, argv, env=self.env(), check=True, capture_output=True)

    def env(self) -> dict[str, str]:
        assert self.broker is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("CERTWATCH_")} | {
            "CERTWATCH_DATA_DIR": str(self.folder),  # no stack.env: only what is set here
            "CERTWATCH_ENVIRONMENT": "development",
            "CERTWATCH_LOG_LEVEL": "WARNING",
            "CERTWATCH_AUTH_ADMIN_TOKEN": self.token,
            "CERTWATCH_KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap,
            "CERTWATCH_KAFKA_ENABLE_IDEMPOTENCE": "false",
        }
        for role in ROLES:
            env[f"CERTWATCH_{role.upper()}_DATABASE_URL"] = self.dsn(role)
        return env

    def spawn(self, argv: list[str], env: dict[str, str], name: str, port: int) -> None:
        log_path = self.folder / f"bench-api-{name}.log"
        process = subprocess.Popen(argv, env=env, stdout=log_path.open("ab"), stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
        self.processes.append(process)
        wait_for_port(port, name, log_path, process.pid, 120)

    def serve(self, layout: str) -> None:
        """rules and reporting in `layout` (split: an api and a worker each; all: one process each)."""
        certwatch = str(Path(sys.executable).parent / "certwatch")
        for service in ROLES:
            roles = ("api", "worker") if layout == "split" else ("all",)
            for role in roles:
                port = free_port()
                self.spawn([certwatch, "serve", service, "--role", role, "--port", str(port)], self.env(),
                           f"{service}-{role}", port)  # fmt: skip
                if role != "worker":
                    self.ports[service] = port

    def serve_minimal(self) -> int:
        port = free_port()
        env = self.env() | {
            "BENCH_DASHBOARD_DSN": self.dsn("reporting", ""),
            "PYTHONPATH": str(Path(__file__).parents[1]),
        }
        self.spawn([sys.executable, str(Path(__file__).with_name("bench_dashboard.py")), "--serve-minimal", str(port)],
                   env, "minimal", port)  # fmt: skip
        self.minimal = self.processes.pop()
        self.ports["minimal"] = port
        return port

    def stop_services(self) -> None:
        for process in self.processes:
            terminate(process.pid)
        self.processes = []

    def stop(self, keep: bool) -> None:
        self.stop_services()
        if self.minimal:
            terminate(self.minimal.pid)
        if self.broker:
            self.broker.stop()
        if self.pg and not keep:
            self.pg.stop()


async def measure(
    infra: Infra, events: list[uuid.UUID], orgs: list[uuid.UUID], seconds: float
) -> dict[tuple[str, int], dash.Timing]:
    rules, reporting = f"http://127.0.0.1:{infra.ports['rules']}", f"http://127.0.0.1:{infra.ports['reporting']}"
    floor = f"http://127.0.0.1:{infra.ports['minimal']}"
    headers = {"Authorization": f"Bearer {infra.token}"}
    filters = ["status=open", "severity=critical", "status=in_review", "severity=high&status=decided",
               f"organisation_id={orgs[0]}"]  # fmt: skip
    targets = {
        "baseline: one row by key": (floor, {}, [f"/events/{i}" for i in await some_reporting_ids(infra)]),
        "rules GET /risk-events/{id}": (rules, headers, [f"/risk-events/{i}" for i in events]),
        "rules GET /risk-events filtered, page 1": (rules, headers, [f"/risk-events?{f}&limit=50" for f in filters]),
        "rules GET /risk-events filtered, offset 500": (
            rules, headers, [f"/risk-events?{f}&limit=50&offset=500" for f in filters[:4]]),
        "reporting GET /summary": (reporting, headers, ["/summary"]),
        "reporting GET /dashboard": (reporting, headers, ["/dashboard"]),
    }  # fmt: skip
    timings: dict[tuple[str, int], dash.Timing] = {}
    for workers in CONCURRENCY:
        for name, (url, head, paths) in targets.items():
            timings[(name, workers)] = await dash.concurrently(url, head, paths, workers, seconds)
    return timings


async def some_reporting_ids(infra: Infra) -> list[uuid.UUID]:
    ids, _, _ = await dash.some_ids(infra.dsn("reporting", ""))
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="risk events in each read model")
    parser.add_argument("--organisations", type=int, default=100_000, help="rules' registry")
    parser.add_argument("--signals", type=int, default=50_000, help="the backlog rules' consumer works off")
    parser.add_argument("--raised", type=int, default=50_000, help="risk events raised, for reporting to count")
    parser.add_argument("--seconds", type=float, default=8.0, help="per endpoint and concurrency level")
    parser.add_argument("--layouts", default="split,all")
    parser.add_argument("--folder", type=Path, help="keep the cluster here, and reuse its data if of the same size")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="bench-api-"))
    folder.mkdir(parents=True, exist_ok=True)
    infra = Infra(folder)
    results: dict[str, tuple[dict[tuple[str, int], dash.Timing], dict[str, float]]] = {}
    orgs = organisations(args.organisations)
    try:
        asyncio.run(infra.start())
        # A run adds the events its backlog raised: the data is reused while it holds at least --events.
        if args.events <= asyncio.run(count_rows(infra.dsn("rules", ""), "rules", "risk_events")) < args.events * 1.1:
            log(f"reusing the {args.events:,} risk events loaded in {folder}")
        else:
            log(f"loading {args.events:,} risk events into rules ({args.organisations:,} organisations) and reporting")
            log(f"both read models loaded in {asyncio.run(load(infra, args.events, orgs)):.0f} s")
        events, org_ids = asyncio.run(sample(infra.dsn("rules", "")))
        infra.serve_minimal()
        for layout in args.layouts.split(","):
            assert infra.broker is not None
            run = f"{layout}-{uuid.uuid4().hex[:6]}"
            took = asyncio.run(backlog(infra.broker.bootstrap, orgs, args.signals, args.raised, run))
            log(f"{layout}: backlog of {args.signals:,} signals and {args.raised:,} raised events put in {took:.0f} s")
            before = consumed(infra)
            infra.serve(layout)
            began = time.perf_counter()
            timings = asyncio.run(measure(infra, events, org_ids, args.seconds))
            after, spent = consumed(infra), time.perf_counter() - began
            work = {key: (after[key] - before[key]) / spent for key in after}
            work["load"] = os.getloadavg()[0]
            results[layout] = (timings, work)
            log(f"{layout}: measured; the consumers handled {work}")
            infra.stop_services()
    finally:
        infra.stop(keep=args.folder is not None)
        if args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)
    _print(args, results)


def consumed(infra: Infra) -> dict[str, float]:
    """Messages each consumer has handled so far (rows of its inbox)."""
    return {role: float(asyncio.run(count_rows(infra.dsn(role, ""), role, "processed_events"))) for role in ROLES}


def _print(args: Any, results: dict[str, tuple[dict[tuple[str, int], dash.Timing], dict[str, float]]]) -> None:
    print(f"\nAPI latency, {args.events:,} risk events in rules' and in reporting's read models; {os.cpu_count()} cores; "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {args.seconds:.0f} s per row")  # fmt: skip
    for layout, (timings, work) in results.items():
        what = "api and worker in separate processes" if layout == "split" else "one process per service"
        print(f"\nlayout {layout} ({what}); meanwhile rules' consumer handled {work['rules']:.0f} signals/s and "
              f"reporting's {work['reporting']:.0f} messages/s; load average {work['load']:.1f}")  # fmt: skip
        print(f"  {'':45} {'c':>3} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8} {'p99/base':>9}  target")
        for workers in CONCURRENCY:
            floor = timings[("baseline: one row by key", workers)]
            for (name, w), timing in timings.items():
                if w != workers:
                    continue
                ratio = timing.at(0.99) / floor.at(0.99)
                target = ""
                if workers == 64 and not name.startswith("baseline"):
                    limit = BY_ID_P99_MS if "{id}" in name else LIST_P99_MS
                    met = timing.at(0.99) <= limit and ratio <= BASELINE_RATIO
                    target = f"{'met' if met else 'MISSED'} (≤ {limit:.0f} ms, ≤ {BASELINE_RATIO:.0f}×)"
                    if "summary" in name or "dashboard" in name:
                        target = f"(≤ {LIST_P99_MS:.0f} ms as a list: {'met' if met else 'MISSED'})"
                errors = f" {timing.errors} errors" if timing.errors else ""
                print(f"  {name:45} {workers:>3} {timing.at(0.5):8.1f} {timing.at(0.95):8.1f} {timing.at(0.99):8.1f} "
                      f"{timing.rate:8.1f} {ratio:8.1f}×  {target}{errors}")  # fmt: skip


if __name__ == "__main__":
    main()
