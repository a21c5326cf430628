"""Benchmark: the whole flow on the local stack, each stage beside a baseline measured in the same run.

Baselines, on the idle stack first: raw aiokafka produce and consume on the stack's broker (and consume with an
offset commit per batch); aiosmtplib over as many connections as notify's sender keeps, to the stack's mail
sink; httpx with one client and notify's concurrency to the SMS sink; asyncpg COPY of the registry's rows into
a scratch table; a minimal FastAPI + asyncpg app reading one row at concurrency 16 (uvicorn, in a child
process of this script, as the services are processes apart from the client).

The flow: a registry import (`--orgs`, 100,000 by default; every organisation with a certificate and a contact
with an email and a mobile) through `POST /organisations/import` on rules, followed as a job when it answers
202; once the matcher finds the last organisation imported, `--signals` spot-check failures (20,000), each
naming one of those organisations by name and credit code, uploaded as one bulletin CSV to ingest's
`POST /files?kind=spot_check` (the real path: parsed, staged and published by ingest's relay), each through to
a risk event (rules), an email and an SMS (notify, the sinks) and reporting's tallies. Counts come from the
stack's PostgreSQL (each service's schema, read with the stack's administrator role), polled every 0.5 s.
Each stage's rate is its count over the polls from its first output to its last, so in this pipeline a stage
can go no faster than the one before it: its `finished at` shows where it waited.

Every run imports new organisations (names and credit codes numbered on from those of earlier runs), so it
can be run again on the same stack. Prints a table with each target of issue 13 and PASS/FAIL; a missed
target does not fail the process, an error does.

    .venv/bin/python bench/bench_flow.py [--orgs 100000] [--signals 20000] [--samples FILE.csv]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import json
import math
import os
import socket
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI, HTTPException, Request  # at module level: the routes' annotations are read by name

ROOT = Path(__file__).resolve().parent.parent
POLL = 0.5  # seconds between counts
PEAK_WINDOW = 5.0  # seconds: a stage's best rate over any such stretch is shown beside its rate
API_SECONDS = 5.0  # each HTTP load test
API_CONCURRENCY = 16
SCHEMA = "bench_flow"  # the scratch schema of the COPY baseline and the minimal app; dropped at the end
REF_PREFIX = "BENCH-FLOW-"
# Issue 13's targets (make bench, this 2-core machine).
IMPORT_TARGET_S = 30.0
INDEX_TARGET_S = 5.0
RULES_TARGET = 2_000.0
EMAIL_TARGET_RATIO = 0.7
SMS_TARGET = 500.0
REPORTING_TARGET = 3_000.0
FLOW_TARGET_S = 60.0

REGISTRY_HEADER = [
    "org_id", "name", "credit_code", "address", "province", "city", "contact_name", "contact_email",
    "contact_mobile", "certificate_no", "certificate_type", "scope", "products", "certificate_status",
]  # fmt: skip
BULLETIN_HEADER = [
    "序号", "产品名称", "标称生产企业名称", "生产企业统一社会信用代码", "标称生产企业地址", "规格型号",
    "生产日期/批号", "不合格项目║检验结果║标准值", "检验机构",
]  # fmt: skip
CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # what an organisation code may hold (GB 11714)
SCRAMBLE = 2_654_435_761  # a prime: numbering organisations k -> k * SCRAMBLE spreads names over the space


# ---------------------------------------------------------------- the workload


@dataclass(frozen=True)
class Org:
    """One generated organisation: number `k` gives a name and a credit code no other number gives."""

    k: int
    name: str
    code: str
    province: str
    city: str

    @property
    def ref(self) -> str:
        return f"{REF_PREFIX}{self.k:09d}"

    def registry_row(self) -> list[str]:
        ccc = self.k % 2 == 0
        return [
            self.ref, self.name, self.code, f"{self.province}省{self.city}市某某路{self.k % 997 + 1}号", self.province,
            self.city, "质量负责人", f"qa{self.k}@org{self.k % 1000}.bench.example", f"139{self.k % 10**8:08d}",
            f"BF{self.k:010d}", "CCC" if ccc else "QMS", "电动自行车用充电器" if ccc else "充电器的设计和生产",
            "HY-4820A" if ccc else "", "有效",
        ]  # fmt: skip


def organisations(first: int, count: int) -> list[Org]:
    """`count` organisations numbered from `first`: region + a three-character 字号 + industry + legal form."""
    from certwatch.demo.evalset import INDUSTRIES, TRADE_CHARS
    from services.rules.matcher.regions import CITIES, PROVINCES
    from shared.identifiers import make_uscc

    trade = "".join(dict.fromkeys(TRADE_CHARS))
    space = len(trade) ** 3 * len(INDUSTRIES)
    assert math.gcd(SCRAMBLE, space) == 1 and first + count <= space
    cities = list(CITIES.items())
    orgs = []
    for k in range(first, first + count):
        n, industry = divmod(k * SCRAMBLE % space, len(INDUSTRIES))
        n, a = divmod(n, len(trade))
        c, b = divmod(n, len(trade))
        city, province = cities[k % len(cities)]
        body = "".join(CODE_CHARS[k // len(CODE_CHARS) ** i % len(CODE_CHARS)] for i in range(5, -1, -1))
        code = make_uscc(f"{PROVINCES[province]}0100", f"PD{body}")
        form = "股份有限公司" if k % 10 == 0 else "有限公司"
        orgs.append(Org(k, f"{city}市{trade[a]}{trade[b]}{trade[c]}{INDUSTRIES[industry]}{form}", code, province, city))
    return orgs


def csv_bytes(rows: list[list[str]], above: list[list[str]] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([*(above or []), *rows])
    return out.getvalue().encode("utf-8")


def bulletin(orgs: list[Org], signals: int, number: int) -> bytes:
    """A national spot-check bulletin (the layout ingest reads) whose `signals` rows each name one organisation."""
    title = f"市场监管总局2026年第{number}号 电动自行车用充电器等产品质量国家监督抽查不合格产品名单"
    rows = []
    for j in range(signals):
        org = orgs[j * len(orgs) // signals]
        rows.append([
            str(j + 1), "电动自行车用充电器", org.name, org.code, f"{org.province}省{org.city}市某某路1号",
            "HY-4820A 48V/2A", "2026-10-01", "输出电压║52.1V║48V±5%", "国家电器产品质量检验检测中心",
        ])  # fmt: skip
    return csv_bytes(rows, [[title], BULLETIN_HEADER])


# ---------------------------------------------------------------- the stack


@dataclass
class Stack:
    """Where everything of the local stack is, and how to talk to it (as the CLI does)."""

    admin_dsn: str
    bootstrap: str
    urls: dict[str, str]
    headers: dict[str, str]
    pids: dict[str, int]
    smtp: tuple[str, int]
    sms_url: str
    notify: Any  # NotifySettings

    @classmethod
    def find(cls) -> Stack:
        from certwatch import stack
        from certwatch.services import SERVICES, bearer, settings_of
        from services.notify.settings import NotifySettings
        from shared.settings import PlatformSettings, data_dir

        folder = data_dir()
        if not stack.is_up(folder):
            raise SystemExit(f"the local stack in {folder} is not up: run .venv/bin/certwatch up (make up)")
        env = stack.load_env(folder)
        notify = NotifySettings()
        return cls(
            admin_dsn=env["CERTWATCH_ADMIN_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://"),
            bootstrap=PlatformSettings().kafka_bootstrap_servers,
            urls={s: settings_of(s).url for s in SERVICES},
            headers=bearer(os.environ.get("CERTWATCH_API_TOKEN")),  # as the CLI: yours, else the stack's admin's
            pids={r["name"]: r["pid"] for r in stack.status(folder) if r["pid"]},
            smtp=(notify.smtp_host, notify.smtp_port),
            sms_url=notify.sms_gateway_url or "",
            notify=notify,
        )


# ---------------------------------------------------------------- processes: memory and CPU


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in kB (empty when it is gone)."""
    found = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found


def cpu_seconds(pid: int, children: bool = False) -> float:
    """CPU the process has used (with its reaped children's: PostgreSQL's ended backends)."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
        return ticks / os.sysconf("SC_CLK_TCK")
    return 0.0


def descendants(pid: int) -> list[int]:
    """The process's children, grandchildren, …: a service may run its consumers in processes of their own."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def machine_busy() -> float:
    """Seconds of CPU the whole machine has used since boot, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, stat.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


@dataclass
class Watch:
    """Peak RSS of each service (its process and any children, sampled) and the CPU each component used."""

    pids: dict[str, int]
    trees: dict[str, list[int]] = field(default_factory=dict)
    peak_kb: dict[str, int] = field(default_factory=dict)
    cpu_start: dict[str, float] = field(default_factory=dict)
    busy_start: float = 0.0
    started: float = 0.0
    loads: list[float] = field(default_factory=list)
    result: tuple[float, dict[str, float], float] = (0.0, {}, 0.0)

    SERVICES = ("ingest", "rules", "notify", "reporting")

    def start(self) -> None:
        self.refresh_trees()
        self.cpu_start, self.busy_start, self.started = self.cpu(), machine_busy(), time.monotonic()

    def refresh_trees(self) -> None:
        self.trees = {name: [pid, *descendants(pid)] for name, pid in self.pids.items()}

    def sample(self) -> None:
        for name in self.SERVICES:
            rss = sum(proc_status(pid).get("VmRSS", 0) for pid in self.trees.get(name, []))
            self.peak_kb[name] = max(self.peak_kb.get(name, 0), rss)
        self.loads.append(os.getloadavg()[0])

    def cpu(self) -> dict[str, float]:
        # PostgreSQL's backends are the postmaster's children; the others' CPU is their own process tree's.
        found = {
            "postgres": sum(cpu_seconds(p, p == self.pids.get("postgres")) for p in self.trees.get("postgres", []))
        }
        for name, tree in self.trees.items():
            if name != "postgres":
                found[name] = sum(cpu_seconds(p) for p in tree)
        found["this bench"] = sum(os.times()[:4])  # its own and its ended children's (the minimal app)
        return found

    def cpu_used(self) -> tuple[float, dict[str, float], float]:
        """(seconds since start, cores each component used meanwhile, cores other processes used)."""
        wall = time.monotonic() - self.started
        now = self.cpu()
        used = {name: max(0.0, now[name] - self.cpu_start.get(name, 0.0)) / wall for name in now}
        others = max(0.0, (machine_busy() - self.busy_start) / wall - sum(used.values()))
        return wall, used, others

    def stop(self) -> None:
        self.result = self.cpu_used()

    def hwm_mb(self, name: str) -> float:
        return sum(proc_status(p).get("VmHWM", 0) for p in self.trees.get(name, [])) / 1024


# ---------------------------------------------------------------- baselines


@dataclass
class Baselines:
    produce: float = 0.0
    consume: float = 0.0
    consume_committed: float = 0.0
    copy: float = 0.0
    smtp: float = 0.0
    sms: float = 0.0
    api: Load | None = None
    notes: dict[str, str] = field(default_factory=dict)


def signal_payload(org: Org) -> bytes:
    """About the size of ingest's signal envelope for one bulletin row."""
    return json.dumps(
        {"event_id": str(uuid.uuid4()), "event_type": "ingest.signal-received", "occurred_at": "2026-12-04T00:00:00Z",
         "producer": "ingest", "correlation_id": str(uuid.uuid4()), "causation_id": None,
         "payload": {"signal_id": str(uuid.uuid4()), "feed": "bench-flow", "kind": "spot_check_failure",
                     "subject": {"name": org.name, "credit_code": org.code, "address": "某某路1号", "role": "producer"},
                     "product": {"name": "电动自行车用充电器", "model": "HY-4820A 48V/2A", "production_date": "2026-10-01"},
                     "detail": {"failed_items": [{"item": "输出电压", "result": "52.1V", "standard": "48V±5%"}],
                                "bulletin_no": "市场监管总局2026年第1号", "level": "national",
                                "testing_body": "国家电器产品质量检验检测中心"},
                     "parties": [{"name": org.name, "credit_code": org.code, "role": "producer"}]}},
        ensure_ascii=False,
    ).encode()  # fmt: skip


async def kafka_baseline(bootstrap: str, orgs: list[Org], count: int) -> tuple[float, float, float, int]:
    """(produce msgs/s, consume msgs/s, consume with a commit per batch msgs/s, message bytes) on a scratch topic,
    with the services' producer settings (acks=all, linger 5 ms) and their consumer's batch size (200)."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"bench.flow-baseline.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 3, 1)])
        messages = [(org.ref.encode(), signal_payload(org)) for org in (orgs[i % len(orgs)] for i in range(count))]
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, enable_idempotence=False)
        await producer.start()
        try:
            started = time.perf_counter()
            futures = [await producer.send(topic, value=value, key=key) for key, value in messages]
            await asyncio.gather(*futures)
            produce = count / (time.perf_counter() - started)
        finally:
            await producer.stop()
        consume = await _consume(bootstrap, topic, count, None)
        committed = await _consume(bootstrap, topic, count, f"bench-flow-{uuid.uuid4().hex[:8]}")
    finally:
        with contextlib.suppress(Exception):  # a scratch topic left behind costs nothing on an in-memory broker
            await admin.delete_topics([topic])
        await admin.close()
    return produce, consume, committed, len(messages[0][1])


async def _consume(bootstrap: str, topic: str, count: int, group: str | None) -> float:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        seen, started = 0, time.perf_counter()
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=200)
            seen += sum(len(records) for records in batch.values())
            if group and batch:
                await consumer.commit({tp: records[-1].offset + 1 for tp, records in batch.items()})
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def copy_baseline(dsn: str, orgs: list[Org]) -> float:
    """Rows/s of asyncpg COPY of the registry's rows into a scratch table keyed like the organisations."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
        columns = ", ".join(f"{c} text" + (" PRIMARY KEY" if c == "org_id" else "") for c in REGISTRY_HEADER)
        await conn.execute(f"CREATE TABLE {SCHEMA}.registry ({columns})")
        rows = [org.registry_row() for org in orgs]
        started = time.perf_counter()
        await conn.copy_records_to_table("registry", schema_name=SCHEMA, records=rows, columns=REGISTRY_HEADER)
        return len(rows) / (time.perf_counter() - started)
    finally:
        await conn.close()


async def smtp_baseline(stack: Stack, count: int) -> float:
    """Messages/s with aiosmtplib over notify's number of pooled connections, each sending in turn."""
    import aiosmtplib

    from services.notify.channels import EmailChannel
    from services.notify.templates import Rendered

    connections = stack.notify.smtp_pool_size
    compose = EmailChannel(stack.notify).compose
    subject = "【认证风险提示】宁波市宏远澄电器有限公司：产品监督抽查不合格（输出电压）"
    body = ("根据市场监管总局通告，贵单位生产的电动自行车用充电器经产品质量监督抽查，输出电压项目不合格。" * 8) + "\n"
    mails = [compose(f"qa{n}@baseline.bench.example", Rendered(subject, body), str(uuid.uuid4())) for n in range(count)]
    clients = [aiosmtplib.SMTP(hostname=stack.smtp[0], port=stack.smtp[1], start_tls=False) for _ in range(connections)]
    await asyncio.gather(*(c.connect() for c in clients))

    async def send_share(client: Any, share: list[Any]) -> None:
        for mail in share:
            await client.send_message(mail)

    started = time.perf_counter()
    await asyncio.gather(*(send_share(c, mails[i::connections]) for i, c in enumerate(clients)))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(c.quit() for c in clients))
    return count / elapsed


async def sms_baseline(stack: Stack, count: int) -> float:
    """Texts/s to the SMS sink with one httpx client and notify's concurrency, as its SMS channel sends."""
    concurrency = stack.notify.send_concurrency
    texts = iter(range(count))
    async with httpx.AsyncClient(timeout=10.0, limits=httpx.Limits(max_connections=concurrency)) as client:

        async def worker() -> None:
            for n in texts:
                body = {"to": f"139{n:08d}", "text": "【认证风险提示】产品监督抽查不合格", "idempotency_key": str(n)}
                (await client.post(stack.sms_url, json=body)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


# ---------------------------------------------------------------- HTTP load: the minimal app and the services


@dataclass
class Load:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else math.nan

    def __str__(self) -> str:
        return f"{self.rate:,.0f} req/s, p50 {self.percentile(0.5):.1f} ms, p99 {self.percentile(0.99):.1f} ms" + (
            f", {self.errors} errors" if self.errors else ""
        )


async def load(url: str, headers: dict[str, str], paths: list[str], seconds: float = API_SECONDS) -> Load:
    """GET the paths in turn from `API_CONCURRENCY` workers for `seconds` (after one warm-up request each)."""
    limits = httpx.Limits(max_connections=API_CONCURRENCY, max_keepalive_connections=API_CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30.0) as client:
        await asyncio.gather(*(client.get(paths[i % len(paths)]) for i in range(API_CONCURRENCY)))
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + seconds

        async def worker(offset: int) -> None:
            nonlocal errors
            n = offset
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(paths[n % len(paths)])
                latencies.append(time.perf_counter() - started)
                errors += response.status_code != 200
                n += API_CONCURRENCY

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(API_CONCURRENCY)))
        return Load(len(latencies), errors, time.perf_counter() - started, latencies)


def minimal_app(dsn: str) -> Any:
    """FastAPI + an asyncpg pool (the services' pool size) reading one row by key: the floor of a read."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        app.state.pool = await asyncpg.create_pool(dsn, min_size=5, max_size=5)
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/rows/{org_id}")
    async def read_row(org_id: str, request: Request) -> dict[str, Any]:
        """One registry row."""
        row = await request.app.state.pool.fetchrow(
            f"SELECT org_id, name, credit_code, address FROM {SCHEMA}.registry WHERE org_id = $1", org_id
        )
        if row is None:
            raise HTTPException(404)
        return dict(row)

    return app


def serve_minimal(port: int) -> None:
    """The child process: the minimal app on `port` (its DSN comes by environment, never on a command line)."""
    import uvicorn

    uvicorn.run(minimal_app(os.environ["BENCH_FLOW_DSN"]), host="127.0.0.1", port=port, log_level="warning")


async def api_baseline(stack: Stack, orgs: list[Org]) -> Load:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "BENCH_FLOW_DSN": stack.admin_dsn, "PYTHONPATH": str(ROOT)}
    child = await asyncio.create_subprocess_exec(sys.executable, __file__, "--serve-minimal", str(port), env=env)
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(100):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{port}/rows/{orgs[0].ref}")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the minimal app did not answer within 10 s")
        paths = [f"/rows/{org.ref}" for org in orgs[:: max(1, len(orgs) // 1000)]]
        return await load(f"http://127.0.0.1:{port}", {}, paths)
    finally:
        child.terminate()
        await child.wait()


async def measure_baselines(stack: Stack, orgs: list[Org], signals: int) -> Baselines:
    found = Baselines()
    messages = max(signals, 20_000)
    found.produce, found.consume, found.consume_committed, size = await kafka_baseline(stack.bootstrap, orgs, messages)
    found.notes["kafka"] = f"{messages:,} messages of {size:,} bytes, 3 partitions"
    found.copy = await copy_baseline(stack.admin_dsn, orgs)
    found.notes["copy"] = f"{len(orgs):,} rows of {len(REGISTRY_HEADER)} columns, primary key"
    mails = min(2_000, max(signals, 200))
    found.smtp = await smtp_baseline(stack, mails)
    found.notes["smtp"] = f"{mails:,} emails over {stack.notify.smtp_pool_size} connections"
    found.sms = await sms_baseline(stack, mails)
    found.notes["sms"] = f"{mails:,} texts, one client, {stack.notify.send_concurrency} in flight"
    found.api = await api_baseline(stack, orgs)
    return found


# ---------------------------------------------------------------- counting: the services' own tables


COUNTS = {
    "published": "SELECT count(*) FROM ingest.outbox WHERE id > $1 AND topic = 'ingest.signal-received.v2'"
    " AND published_at IS NOT NULL",
    "risk_events": "SELECT count(*) FROM rules.risk_events",
    "contacts": "SELECT count(*) FROM notify.organisation_contacts",
    "screened": "SELECT count(*) FROM reporting.screened_organisations",
}


async def counts(conn: asyncpg.Connection, outbox_after: int) -> dict[str, int]:
    """Every counter the stages are followed by, now."""
    found = {name: int(await conn.fetchval(query, *([outbox_after] if "$1" in query else []))) for name, query in
             COUNTS.items()}  # fmt: skip
    for channel, status, n in await conn.fetch("SELECT channel, status, count(*) FROM notify.deliveries GROUP BY 1, 2"):
        found[f"{channel}_{status}"] = int(n)
    for metric, dimension, value in await conn.fetch(
        "SELECT metric, dimension, value FROM reporting.tallies WHERE metric IN "
        "('risk_events', 'notifications_delivered', 'notifications_failed')"
    ):
        if metric == "risk_events" and dimension != "all":
            continue
        found[f"reporting_{metric}_{dimension}"] = int(value)
    return found


def derived(now: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    """The counters of this run's stages: what each grew by since just before the import."""

    def grown(*keys: str) -> int:
        return sum(now.get(k, 0) - before.get(k, 0) for k in keys)

    return {
        "contacts": grown("contacts"),
        "screened": grown("screened"),
        "published": now.get("published", 0),  # already counted from the upload's first outbox row
        "risk_events": grown("risk_events"),
        "email": grown("email_delivered", "email_failed"),
        "sms": grown("sms_delivered", "sms_failed"),
        "failed": grown("email_failed", "sms_failed"),
        "reporting": grown(
            "reporting_risk_events_all",
            "reporting_notifications_delivered_email",
            "reporting_notifications_delivered_sms",
            "reporting_notifications_failed_email",
            "reporting_notifications_failed_sms",
        ),
        "reporting_email": grown("reporting_notifications_delivered_email", "reporting_notifications_failed_email"),
    }


@dataclass
class Series:
    """The counters over time: (seconds on the monotonic clock, counters)."""

    samples: list[tuple[float, dict[str, int]]] = field(default_factory=list)

    def reached(self, name: str, expected: int, since: float = 0.0) -> float | None:
        """When `name` first reached `expected`."""
        return next((t for t, c in self.samples if t >= since and c.get(name, 0) >= expected), None)

    def rate(self, name: str, expected: int) -> float | None:
        """The stage's rate while it ran: its growth from the first poll that saw some of it to the poll that saw
        all of it (or the last poll, when it did not finish); when one poll saw it all, everything over the time
        since the last poll that saw none."""
        end = self.reached(name, expected)
        if end is None and self.samples:
            end, expected = self.samples[-1][0], min(expected, self.samples[-1][1].get(name, 0))
        seen = [(t, c.get(name, 0)) for t, c in self.samples if t <= (end or 0)]
        first = next(((t, n) for t, n in seen if n > 0), None)
        if end is None or first is None:
            return None
        last_zero = max((t for t, n in seen if n == 0), default=first[0] - POLL)
        if first[0] < end and expected > first[1]:
            return (expected - first[1]) / (end - first[0])
        return expected / max(end - last_zero, 1e-3)

    def peak(self, name: str, window: float = PEAK_WINDOW) -> float | None:
        """The stage's best rate over any `window` seconds: what it can do when its input is there."""
        best, start = None, 0
        for t, c in self.samples:
            while start + 1 < len(self.samples) and t - self.samples[start + 1][0] >= window:
                start += 1
            t0, c0 = self.samples[start]
            if t - t0 >= window:
                rate = (c.get(name, 0) - c0.get(name, 0)) / (t - t0)
                best = rate if best is None else max(best, rate)
        return best

    def last(self) -> dict[str, int]:
        return self.samples[-1][1] if self.samples else {}


# ---------------------------------------------------------------- the flow


async def follow(client: httpx.AsyncClient, base_url: str, response: httpx.Response, what: str) -> dict[str, Any]:
    """A long request's outcome: the body of a 200, or, for a 202 with a job, the job's result once it ends
    (GET /jobs/{id}, its progress shown every 10 s)."""
    response.raise_for_status()
    if response.status_code != 202:
        return dict(response.json())
    job, shown = response.json(), time.monotonic()
    while job["status"] in ("queued", "running"):
        if time.monotonic() - shown > 10:
            total = f"/{job['total']:,}" if job.get("total") else ""
            print(f"  {what} job {job['status']}: {job.get('phase') or ''} {job.get('done', 0):,}{total}", flush=True)
            shown = time.monotonic()
        await asyncio.sleep(0.25)
        job = (await client.get(f"{base_url}/jobs/{job['id']}")).raise_for_status().json()
    if job["status"] != "succeeded":
        raise RuntimeError(f"the {what} job {job['id']} {job['status']}: {job.get('error')}")
    return dict(job["result"])


async def matcher_has(client: httpx.AsyncClient, stack: Stack, org: Org) -> bool:
    """Whether the live index finds the organisation by its name alone."""
    response = await client.post(stack.urls["rules"] + "/screening/match", json={"name": org.name})
    return response.status_code == 200 and any(c.get("matched_name") == org.name for c in response.json())


@dataclass
class Flow:
    orgs: int
    signals: int
    import_report: dict[str, Any] = field(default_factory=dict)
    import_started: float = 0.0
    import_done: float = 0.0
    index_current: float | None = None
    upload_started: float = 0.0
    upload_answered: float = 0.0
    upload_done: float = 0.0
    upload: dict[str, Any] = field(default_factory=dict)
    finished: bool = False
    series: Series = field(default_factory=Series)
    some_risk_event: str | None = None

    def done(self, c: dict[str, int]) -> bool:
        """Whether every stage has all of its work: this run's risk events, emails, texts and tallies, and the
        import's contact copies and reporting's organisations."""
        n = self.signals
        return (
            c["risk_events"] >= n and c["email"] >= n and c["sms"] >= n and c["reporting"] >= 3 * n
            and c["contacts"] >= self.orgs and c["screened"] >= self.orgs
        )  # fmt: skip

    def progress(self, now: float, c: dict[str, int]) -> str:
        return (
            f"{now - self.upload_started:5.0f} s: published {c['published']:,}, risk events {c['risk_events']:,}, "
            f"email {c['email']:,}, sms {c['sms']:,}, reporting {c['reporting']:,} of {3 * self.signals:,}, "
            f"contacts {c['contacts']:,}, screened {c['screened']:,}"
        )


async def run_flow(stack: Stack, orgs: list[Org], signals: int, watch: Watch, stall: float, timeout: float) -> Flow:
    """Import, upload, and follow every stage to its end (or until nothing moves for `stall` seconds)."""
    flow = Flow(len(orgs), signals)
    conn = await asyncpg.connect(stack.admin_dsn)
    sampler = None
    try:
        outbox_after = int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM ingest.outbox"))
        before = await counts(conn, outbox_after)
        sampler = asyncio.create_task(sample(conn, flow.series, before, outbox_after, watch))
        async with httpx.AsyncClient(headers=stack.headers, timeout=httpx.Timeout(30.0, read=None)) as client:
            await import_registry(client, stack, orgs, flow)
            await upload_bulletin(client, stack, orgs, signals, flow)
        flow.signals = int(flow.upload.get("accepted") or 0)
        flow.finished = await wait_for_stages(flow, stall, flow.upload_started + timeout, watch)
        sampler.cancel()  # and waited for: its query may be running on `conn` (a stop at --timeout)
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        flow.some_risk_event = str(
            await conn.fetchval("SELECT id FROM rules.risk_events ORDER BY created_at DESC LIMIT 1")
        )
    finally:
        if sampler is not None:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        await conn.close()
    return flow


async def sample(
    conn: asyncpg.Connection, series: Series, before: dict[str, int], outbox_after: int, watch: Watch
) -> None:
    """Every POLL seconds: the counters, and each service's memory."""
    trees = time.monotonic()
    while True:
        series.samples.append((time.monotonic(), derived(await counts(conn, outbox_after), before)))
        watch.sample()
        if time.monotonic() - trees > 10:  # a service may have started a process of its own meanwhile
            watch.refresh_trees()
            trees = time.monotonic()
        await asyncio.sleep(POLL)


async def wait_for_stages(flow: Flow, stall: float, deadline: float, watch: Watch) -> bool:
    """Until every stage is done (True), or nothing has moved for `stall` seconds or the deadline passed (False)."""
    moved, shown, previous = time.monotonic(), time.monotonic(), flow.series.last()
    while True:
        await asyncio.sleep(POLL)
        now, current = time.monotonic(), flow.series.last()
        if current != previous:
            moved, previous = now, current
        if now - shown >= 10:
            print("  " + flow.progress(now, current), flush=True)
            shown = now
        if flow.done(current):
            return True
        if now - moved > stall or now > deadline:
            return False


async def import_registry(client: httpx.AsyncClient, stack: Stack, orgs: list[Org], flow: Flow) -> None:
    """Import, then wait until the matcher finds the first and last organisations imported."""
    data = csv_bytes([o.registry_row() for o in orgs], [REGISTRY_HEADER])
    print(f"importing {len(orgs):,} organisations ({len(data) / 1e6:.1f} MB CSV) into rules …", flush=True)
    flow.import_started = time.monotonic()
    files = {"file": ("registry.csv", data, "text/csv")}
    response = await client.post(stack.urls["rules"] + "/organisations/import", files=files)
    flow.import_report = await follow(client, stack.urls["rules"], response, "import")
    flow.import_done = time.monotonic()
    print(f"  imported in {flow.import_done - flow.import_started:.1f} s: {_report_line(flow.import_report)}")
    while time.monotonic() - flow.import_done < 600:
        if await matcher_has(client, stack, orgs[-1]) and await matcher_has(client, stack, orgs[0]):
            flow.index_current = time.monotonic() - flow.import_done
            break
        await asyncio.sleep(0.1)
    else:
        raise RuntimeError("the matcher did not find the imported organisations within 10 minutes")
    print(f"  the matcher finds them {flow.index_current:.1f} s after the import ended")


def _report_line(report: dict[str, Any]) -> str:
    keys = ("rows", "created", "updated", "unchanged", "rejected_rows")
    return ", ".join(f"{k} {report.get(k, 0):,}" for k in keys) + f", problems {len(report.get('problems') or [])}"


async def upload_bulletin(client: httpx.AsyncClient, stack: Stack, orgs: list[Org], signals: int, flow: Flow) -> None:
    """Upload the bulletin to ingest; follow its job when ingest answers 202."""
    data = bulletin(orgs, signals, orgs[0].k // max(1, len(orgs)) + 1)
    print(f"uploading a bulletin of {signals:,} failures ({len(data) / 1e6:.1f} MB CSV) to ingest …", flush=True)
    flow.upload_started = time.monotonic()
    response = await client.post(
        stack.urls["ingest"] + "/files",
        params={"kind": "spot_check", "feed": "bench-flow"},
        files={"file": ("bulletin.csv", data, "text/csv")},
    )
    flow.upload_answered = time.monotonic()
    result = await follow(client, stack.urls["ingest"], response, "upload")
    flow.upload_done = time.monotonic()
    flow.upload = {k: v for k, v in result.items() if k != "rejections"}
    print(
        f"  answered in {flow.upload_answered - flow.upload_started:.1f} s ({response.status_code}), ingested in "
        f"{flow.upload_done - flow.upload_started:.1f} s: {flow.upload}"
    )
    if flow.upload.get("accepted") != signals:
        print(f"  note: {signals:,} rows uploaded, {flow.upload.get('accepted')} accepted")


# ---------------------------------------------------------------- the report


@dataclass
class Row:
    stage: str
    count: str = ""  # what was done; "done/expected" when the stage did not finish
    finished: float | None = None  # seconds since the upload (the import's rows: since it started, or ended)
    rate: float | None = None
    unit: str = ""
    baseline: float | None = None
    baseline_name: str = ""
    target: str = ""
    passed: bool | None = None
    peak: float | None = None  # the best 5 s: what the stage does when its input is there


def rows_of(flow: Flow, base: Baselines, api: Load | None) -> list[Row]:
    s, n, t0 = flow.series, flow.signals, flow.upload_started
    consumed = (base.consume_committed, "consume+commit")

    def stage(label: str, name: str, expected: int, unit: str, baseline: tuple[float, str] | None = None,
              since: float = t0) -> Row:  # fmt: skip
        reached, got = s.reached(name, expected), s.last().get(name, 0)
        count = f"{expected:,}" if got >= expected else f"{got:,}/{expected:,}"
        finished = None if reached is None else reached - since
        row = Row(label, count, finished, s.rate(name, expected), unit, *(baseline or (None, "")))
        first = next((t for t, c in s.samples if c.get(name, 0) > 0), None)
        if first is not None and (reached or s.samples[-1][0]) - first >= 2 * PEAK_WINDOW:  # else: mostly idle time
            row.peak = s.peak(name)
        return row

    import_s = flow.import_done - flow.import_started
    index_ok = flow.index_current is not None and flow.index_current <= INDEX_TARGET_S
    rows = [
        Row(f"registry import, {flow.orgs:,} rows (s from its start)", f"{flow.orgs:,}", import_s,
            flow.orgs / import_s, "orgs/s", base.copy, "asyncpg COPY", f"<= {IMPORT_TARGET_S:.0f} s",
            import_s <= IMPORT_TARGET_S),
        Row("  matcher finds them (s after the import)", "", flow.index_current, target=f"<= {INDEX_TARGET_S:.0f} s",
            passed=index_ok),
        stage("  notify's contact copies (s after the import)", "contacts", flow.orgs, "orgs/s", consumed,
              flow.import_done),
        stage("  reporting's organisations (s after the import)", "screened", flow.orgs, "orgs/s", consumed,
              flow.import_done),
        Row("ingest: upload answered", "", flow.upload_answered - t0),
        Row("ingest: file ingested (staged)", f"{n:,}", flow.upload_done - t0, n / (flow.upload_done - t0), "rows/s"),
        stage("ingest: signals published", "published", n, "msgs/s", (base.produce, "aiokafka produce")),
        stage("rules: signal -> risk event", "risk_events", n, "signals/s", consumed),
        stage("notify: email", "email", n, "msgs/s", (base.smtp, "aiosmtplib")),
        stage("notify: SMS", "sms", n, "texts/s", (base.sms, "httpx")),
        stage("reporting: events counted", "reporting", 3 * n, "events/s", consumed),
    ]  # fmt: skip
    rules, email, sms, reporting = rows[-4:]
    # A stage that did not finish fails its target, whatever its rate while it ran.
    rules.target, rules.passed = f">= {RULES_TARGET:,.0f}/s", _at_least(rules, RULES_TARGET)
    email.target, email.passed = f">= {EMAIL_TARGET_RATIO}x baseline", _at_least(email, EMAIL_TARGET_RATIO * base.smtp)
    sms.target, sms.passed = f">= {SMS_TARGET:,.0f}/s", _at_least(sms, SMS_TARGET)
    reporting.target, reporting.passed = f">= {REPORTING_TARGET:,.0f}/s", _at_least(reporting, REPORTING_TARGET)
    counted = s.reached("reporting_email", n)
    flow_at = None if email.finished is None or counted is None else max(email.finished, counted - t0)
    rows.append(Row(f"{n:,} signals -> emails sent and counted", f"{n:,}", flow_at, target=f"<= {FLOW_TARGET_S:.0f} s",
                    passed=flow_at is not None and flow_at <= FLOW_TARGET_S))  # fmt: skip
    if api is not None and base.api is not None:
        rows.append(Row(f"rules GET /risk-events/{{id}}, concurrency {API_CONCURRENCY}", f"{api.requests:,}", None,
                        api.rate, "req/s", base.api.rate, "minimal app"))  # fmt: skip
    return rows


def _at_least(row: Row, target: float) -> bool:
    return row.finished is not None and row.rate is not None and row.rate >= target


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}{unit}" if value >= 100 else f"{value:,.1f}{unit}"


def _ratio(rate: float | None, baseline: float | None) -> str:
    if not rate or not baseline:
        return "-"
    return f"{rate / baseline:.2f}x" if rate / baseline >= 0.1 else f"1/{baseline / rate:,.0f}"


def print_table(rows: list[Row]) -> None:
    header = ("stage", "count", "finished at", "rate", "best 5 s", "baseline", "ratio", "target", "")
    lines = [header]
    for r in rows:
        rate = f"{_num(r.rate)} {r.unit}" if r.rate is not None else "-"
        baseline = f"{_num(r.baseline)} ({r.baseline_name})" if r.baseline else "-"
        verdict = "" if r.passed is None else ("PASS" if r.passed else "FAIL")
        ratio = _ratio(r.rate, r.baseline)
        lines.append((r.stage, r.count, _num(r.finished, " s"), rate, _num(r.peak), baseline, ratio, r.target, verdict))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))


def print_baselines(base: Baselines, watch: Watch) -> None:
    wall, _, others = watch.result
    print(f"baselines, on the idle stack ({wall:.0f} s; other processes used {others:.2f} cores meanwhile):")
    print(f"  aiokafka produce           : {base.produce:10,.0f} msgs/s  ({base.notes['kafka']})")
    print(f"  aiokafka consume           : {base.consume:10,.0f} msgs/s")
    print(f"  consume, commit per batch  : {base.consume_committed:10,.0f} msgs/s  (batches of up to 200)")
    print(f"  asyncpg COPY               : {base.copy:10,.0f} rows/s  ({base.notes['copy']})")
    print(f"  aiosmtplib to the mail sink: {base.smtp:10,.0f} msgs/s  ({base.notes['smtp']})")
    print(f"  httpx to the SMS sink      : {base.sms:10,.0f} texts/s ({base.notes['sms']})")
    print(f"  minimal FastAPI + asyncpg  : {base.api}  (one row by key, concurrency {API_CONCURRENCY})")


def print_machine(watch: Watch) -> None:
    wall, used, others = watch.result
    print("peak RSS per service (sampled during the run; VmHWM is the process's peak since it started):")
    for name in watch.SERVICES:
        print(f"  {name:10}: {watch.peak_kb.get(name, 0) / 1024:7,.0f} MB   (VmHWM {watch.hwm_mb(name):,.0f} MB)")
    load = f"load average (1 min) {min(watch.loads, default=0):.2f}-{max(watch.loads, default=0):.2f}"
    shares = ", ".join(f"{name} {share:.2f}" for name, share in sorted(used.items(), key=lambda x: -x[1]))
    print(f"machine: {os.cpu_count()} cores, {load}; over the {wall:.0f} s of the flow, in cores: {shares}; "
          f"other processes {others:.2f}")  # fmt: skip


def write_samples(path: Path, series: Series, t0: float) -> None:
    names = sorted({k for _, c in series.samples for k in c})
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["seconds_since_upload", *names])
        writer.writerows([f"{t - t0:.2f}", *(c.get(k, 0) for k in names)] for t, c in series.samples)


# ---------------------------------------------------------------- main


async def next_number(dsn: str) -> int:
    """The first organisation number no earlier run used."""
    conn = await asyncpg.connect(dsn)
    try:
        last = await conn.fetchval(
            "SELECT max(substr(external_ref, $1)::bigint) FROM rules.organisations WHERE external_ref LIKE $2",
            len(REF_PREFIX) + 1, REF_PREFIX + "%",
        )  # fmt: skip
        return 0 if last is None else int(last) + 1
    finally:
        await conn.close()


async def consumer_lag(bootstrap: str, group: str) -> int:
    """Messages the group has not committed yet, on the partitions it has committed on (Tansu wants the
    partitions named: it cannot list a group's offsets without them)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin, probe = AIOKafkaAdminClient(bootstrap_servers=bootstrap), AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await probe.start()
    try:
        topics = [t for t in await admin.list_topics() if not t.startswith("bench.")]
        await probe._client.force_metadata_update()
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(probe.partitions_for_topic(t) or ())]
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        mine = {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}
        ends = await probe.end_offsets(list(mine)) if mine else {}
        return sum(max(0, ends[tp] - offset) for tp, offset in mine.items())
    finally:
        await probe.stop()
        await admin.close()


async def wait_until_quiet(stack: Stack, limit: float = 600.0) -> None:
    """Start from an idle stack: every outbox published, every consumer caught up, no email or SMS waiting
    (an earlier run or another bench may have left a backlog)."""
    conn = await asyncpg.connect(stack.admin_dsn)
    try:
        started = time.monotonic()
        while True:
            backlog = {
                f"{s} outbox": int(await conn.fetchval(f"SELECT count(*) FROM {s}.outbox WHERE published_at IS NULL"))
                for s in ("ingest", "rules", "notify")
            }
            backlog["notify queued"] = int(
                await conn.fetchval("SELECT count(*) FROM notify.deliveries WHERE status = 'queued'")
            )
            for service in ("rules", "notify", "reporting"):
                backlog[f"{service} lag"] = await consumer_lag(stack.bootstrap, f"certwatch-{service}")
            if any(backlog.values()):
                print(f"  waiting for the stack to be idle: {backlog}", flush=True)
            if not any(backlog.values()) or time.monotonic() - started > limit:
                break
            await asyncio.sleep(10)
        if any(backlog.values()):
            print(f"  note: the stack was still busy after {limit:.0f} s: {backlog}")
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    stack = Stack.find()
    first = await next_number(stack.admin_dsn)
    started = time.perf_counter()
    orgs = organisations(first, args.orgs)
    print(f"generated {len(orgs):,} organisations (numbers {first:,}-{first + len(orgs) - 1:,}) in "
          f"{time.perf_counter() - started:.1f} s; load average {os.getloadavg()}")  # fmt: skip
    await wait_until_quiet(stack)
    try:
        quiet = Watch(dict(stack.pids))
        quiet.start()
        base = await measure_baselines(stack, orgs, args.signals)
        quiet.stop()
        print_baselines(base, quiet)
        watch = Watch(dict(stack.pids))
        watch.start()
        flow = await run_flow(stack, orgs, args.signals, watch, args.stall, args.timeout)
        watch.stop()
        api = None
        if flow.some_risk_event:
            api = await load(stack.urls["rules"], stack.headers, [f"/risk-events/{flow.some_risk_event}"])
            print(f"rules GET /risk-events/{{id}} after the flow: {api}")
    finally:
        await drop_scratch(stack.admin_dsn)
    if not flow.finished:
        print(
            f"NOT FINISHED: nothing moved for {args.stall:.0f} s (or --timeout passed); last counts {flow.series.last()}"
        )
    print()
    print(f"the flow: {flow.orgs:,} organisations imported, then {flow.signals:,} signals uploaded "
          f"('finished at': seconds since the upload; the import's rows since the import started or ended)")  # fmt: skip
    print_table(rows_of(flow, base, api))
    failed = flow.series.last().get("failed", 0)
    if failed:
        print(f"note: {failed:,} deliveries failed (counted as done in the notify and reporting rows)")
    print_machine(watch)
    if args.samples:
        write_samples(args.samples, flow.series, flow.upload_started)
        print(f"counters every {POLL} s: {args.samples}")


async def drop_scratch(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    finally:
        await conn.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orgs", type=int, default=100_000, help="organisations to import (default 100,000)")
    parser.add_argument("--signals", type=int, default=20_000, help="failures in the bulletin (default 20,000)")
    parser.add_argument("--stall", type=float, default=180.0, help="give up when nothing moved for this long (s)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up this long after the upload (s)")
    parser.add_argument("--samples", type=Path, help="write the counters polled every 0.5 s to this CSV")
    args = parser.parse_args()
    if args.orgs < 1 or args.signals < 1:
        parser.error("--orgs and --signals must be positive")
    if args.signals > args.orgs:
        parser.error("--signals names one organisation each: at most --orgs")
    return args


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-minimal"]:
        serve_minimal(int(sys.argv[2]))
        sys.exit(0)
    asyncio.run(main(parse_args()))
