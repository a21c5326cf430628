"""The fault suite (`make test-faults`, issue 12): the local stack as processes, 2,000 spot-check failures
that match registered organisations streamed through ingest while, one after another, each service is
killed with SIGKILL and started again, PostgreSQL is restarted, PostgreSQL is stopped for 30 s and the
broker is paused (SIGSTOP) for 30 s. Once it settles, every stage is counted: signals accepted, risk
events, deliveries, emails and texts in the sinks, reporting's figures, dead letters. Nothing may be
lost and nothing done twice; the counts and each fault's figures are printed.

The one duplicate the design allows: notify killed after a message left for the SMTP server or the SMS
gateway and before it was marked sent resends it with the same idempotency key (Message-ID), which a
receiver recognises. Effects are counted by key; raw resends are printed and bounded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from certwatch.demo.registry import registry_csv, registry_rows
from certwatch.mailsink import read_mail
from certwatch.services import SERVICES
from certwatch.smssink import read_sms
from certwatch.stack.environment import admin_token, feed_token, read_env, write_state
from certwatch.stack.lifecycle import down, start_service, up
from certwatch.stack.postgres import start_postgres, stop_postgres
from certwatch.stack.processes import alive
from shared.contracts import Topic
from shared.kafka.dlq import read_dlq
from shared.settings import PlatformSettings
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.faults]

SIGNALS = int(os.environ.get("CERTWATCH_FAULT_SIGNALS", "2000"))
RATE = 12.0  # signals a second: the stream lasts about as long as the fault schedule below
OUTAGE = float(os.environ.get("CERTWATCH_FAULT_OUTAGE_SECONDS", "30"))
SEND_CONCURRENCY = 8  # notify's default: at most this many messages can be in the send-then-mark window


@dataclass
class Fault:
    name: str
    at: float = 0.0  # seconds into the stream
    in_flight: int = 0  # signals accepted but not yet counted by reporting when it struck
    lasted: float = 0.0
    recovered: float = 0.0  # from its end until every service answered /readyz 200 again


@dataclass
class LocalStack:
    """The processes `certwatch up` started in a folder of their own, and the faults done to them."""

    data_dir: Path
    env: dict[str, str]
    state: dict[str, Any] = field(default_factory=dict)
    failed: bool = True  # until the test says otherwise

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.env[f'CERTWATCH_{service.upper()}_PORT']}"

    @property
    def cluster(self) -> Path:
        return Path(self.state["postgres"]["cluster"])

    def kill(self, service: str) -> None:
        """SIGKILL both processes of the service, its worker (consumers, relay, sender: the work in hand)
        and its api (requests, the relay of what they wrote): no shutdown hook runs, all is cut off."""
        pids = [int(self.state[kind][service]["pid"]) for kind in ("workers", "services")]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        for pid in pids:
            while alive(pid):
                time.sleep(0.05)

    def start(self, service: str) -> None:
        """As `certwatch up` starts them, recorded in the stack's state so `certwatch down` stops them."""
        for kind, role in (("workers", "worker"), ("services", "api")):
            port = int(self.state[kind][service]["port"])
            self.state[kind][service] = start_service(self.data_dir, service, role, port, self.env)
            write_state(self.data_dir, self.state)

    def stop_postgres(self) -> None:
        stop_postgres(self.cluster)

    def start_postgres(self) -> None:
        start_postgres(self.data_dir, int(self.state["postgres"]["port"]))

    def broker(self, sig: signal.Signals) -> None:
        os.kill(int(self.state["broker"]["pid"]), sig)

    async def all_ready(self, timeout: float = 180.0) -> float:
        """Seconds until every service's api and worker answer /readyz 200."""
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=3.0) as client:
            while True:
                urls = [self.url(s) for s in SERVICES] + [e["url"] for e in self.state["workers"].values()]
                codes = await asyncio.gather(*(_status(client, url + "/readyz") for url in urls))
                if all(code == 200 for code in codes):
                    return time.monotonic() - started
                assert time.monotonic() - started < timeout, f"not ready after {timeout} s: {codes}"
                await asyncio.sleep(0.25)


async def _status(client: httpx.AsyncClient, url: str) -> int:
    try:
        return (await client.get(url)).status_code
    except httpx.HTTPError:
        return 0


def _folder() -> Path:
    """A folder PostgreSQL's unprivileged user can reach."""
    folder = Path(tempfile.mkdtemp(prefix="certwatch-faults-"))
    folder.chmod(0o755)
    return folder


@pytest.fixture
async def local_stack() -> AsyncIterator[LocalStack]:
    data_dir = _folder()
    saved = {k: v for k, v in os.environ.items() if k.startswith("CERTWATCH_")}
    for key in saved:  # the stack's own settings only, as `certwatch up` on a clean machine
        del os.environ[key]
    handle = LocalStack(data_dir, {})
    try:
        handle.state = await asyncio.to_thread(up, data_dir)
        handle.env = read_env(data_dir)
        yield handle
    finally:
        with contextlib.suppress(Exception):
            handle.broker(signal.SIGCONT)
        await asyncio.to_thread(down, data_dir)
        os.environ.update(saved)
        if handle.failed:  # the services' logs say why; the rest goes
            kept = Path(tempfile.gettempdir()) / f"{data_dir.name}-logs"
            shutil.copytree(data_dir / "logs", kept, dirs_exist_ok=True)
            print(f"\nthe stack's logs are kept in {kept}")
        shutil.rmtree(data_dir, ignore_errors=True)


def signal_body(i: int) -> dict[str, Any]:
    """The i-th spot-check failure: one of the demo registry's companies by name and code, its own product."""
    rows = registry_rows("faults.example")
    row = rows[i % len(rows)]
    product, model = row["products"].split("|")
    return {
        "feed": "samr-national", "kind": "spot_check_failure",
        "subject": {"name": row["name"], "credit_code": row["credit_code"]},
        "product": {"name": product, "model": model},
        "detail": {"bulletin_no": f"故障演练第{i}号", "failed_items": [{"item": "输出电压"}]},
    }  # fmt: skip


@dataclass
class Stream:
    """Posts the signals at RATE a second; a refused or unanswered post is tried again until accepted
    (ingest's signal ids are a hash of the content, so a retried post is the same signal)."""

    url: str
    token: str
    accepted: int = 0
    retries: int = 0
    server_errors: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    async def run(self, workers: int = 4) -> None:
        async with httpx.AsyncClient(timeout=10.0, headers={"Authorization": f"Bearer {self.token}"}) as client:
            await asyncio.gather(*(self._worker(client, w, workers) for w in range(workers)))

    async def _worker(self, client: httpx.AsyncClient, first: int, step: int) -> None:
        for i in range(first, SIGNALS, step):
            await asyncio.sleep(max(0.0, self.started + i / RATE - time.monotonic()))
            while not await self._post(client, i):
                self.retries += 1
                await asyncio.sleep(0.5)
            self.accepted += 1

    async def _post(self, client: httpx.AsyncClient, i: int) -> bool:
        try:
            response = await client.post(self.url + "/signals", json=signal_body(i))
        except httpx.HTTPError:
            return False
        if response.status_code >= 500:
            self.server_errors[f"{response.status_code} {response.text[:120]}"] += 1
        if 400 <= response.status_code < 500:
            raise AssertionError(f"signal {i} refused: {response.status_code} {response.text}")
        return response.status_code < 300


@dataclass(frozen=True)
class Counts:
    signals: int
    risk_events: int
    risk_events_distinct_signals: int
    deliveries: dict[str, int]
    reporting_raised: int
    reporting_delivered: int
    emails: int
    emails_distinct: int
    texts: int
    texts_distinct: int


async def count(handle: LocalStack) -> Counts:
    conn = await asyncpg.connect(handle.env["CERTWATCH_ADMIN_DATABASE_URL"])
    try:
        signals = await conn.fetchval("SELECT count(*) FROM ingest.signals")
        raised = await conn.fetchrow("SELECT count(*) n, count(DISTINCT signal_id) d FROM rules.risk_events")
        deliveries = await conn.fetch("SELECT status, count(*) n FROM notify.deliveries GROUP BY status")
        tallies = await conn.fetch(
            "SELECT metric, sum(value) n FROM reporting.tallies WHERE metric IN ('risk_events', "
            "'notifications_delivered') AND (metric <> 'risk_events' OR dimension = 'all') GROUP BY metric"
        )
    finally:
        await conn.close()
    figures = {r["metric"]: int(r["n"]) for r in tallies}
    mails = [m["Message-ID"] for m in read_mail(Path(handle.state["mail"]["dir"]))]
    texts = [t["idempotency_key"] for t in read_sms(Path(handle.state["sms"]["dir"]))]
    return Counts(
        signals=int(signals), risk_events=int(raised["n"]), risk_events_distinct_signals=int(raised["d"]),
        deliveries={r["status"]: int(r["n"]) for r in deliveries},
        reporting_raised=figures.get("risk_events", 0), reporting_delivered=figures.get("notifications_delivered", 0),
        emails=len(mails), emails_distinct=len(set(mails)), texts=len(texts), texts_distinct=len(set(texts)),
    )  # fmt: skip


def settled(c: Counts) -> bool:
    n = SIGNALS
    return (c.signals, c.risk_events, c.reporting_raised, c.emails_distinct, c.texts_distinct) == (n, n, n, n, n) and (
        c.deliveries.get("delivered") == 2 * n and c.reporting_delivered == 2 * n
    )


@dataclass
class Drained:
    """Accepts counts that are settled, or that have not moved for `quiet` seconds (then the asserts say what
    is missing): a loaded machine drains slowly, a lost message never comes."""

    quiet: float = 90.0
    last: Counts | None = None
    since: float = field(default_factory=time.monotonic)

    def __call__(self, counts: Counts) -> bool:
        if counts != self.last:
            self.last, self.since = counts, time.monotonic()
        return settled(counts) or time.monotonic() - self.since > self.quiet


@pytest.mark.timeout(1800)
async def test_two_thousand_signals_through_kills_restarts_and_outages_lose_nothing_and_do_nothing_twice(
    local_stack: LocalStack,
) -> None:
    handle = local_stack
    admin = {"Authorization": f"Bearer {admin_token(handle.data_dir)}"}
    async with httpx.AsyncClient(timeout=120.0, headers=admin) as rules:
        files = {"file": ("registry.csv", registry_csv("faults.example"))}
        imported = await rules.post(handle.url("rules") + "/organisations/import?wait=true", files=files)
        assert imported.status_code == 200, imported.text

    stream = Stream(handle.url("ingest"), feed_token(handle.data_dir))
    faults: list[Fault] = []

    async def fault(name: str, at: float, do: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(max(0.0, stream.started + at - time.monotonic()))
        record = Fault(name, at=time.monotonic() - stream.started)
        with contextlib.suppress(Exception):
            record.in_flight = stream.accepted - (await count(handle)).reporting_raised
        began = time.monotonic()
        await do()
        record.lasted = time.monotonic() - began
        record.recovered = await handle.all_ready()
        faults.append(record)

    async def kill_and_restart(service: str) -> None:
        await asyncio.to_thread(handle.kill, service)
        await asyncio.to_thread(handle.start, service)

    async def restart_postgres() -> None:
        await asyncio.to_thread(handle.stop_postgres)
        await asyncio.to_thread(handle.start_postgres)

    async def stop_postgres() -> None:
        await asyncio.to_thread(handle.stop_postgres)
        await asyncio.sleep(OUTAGE)
        await asyncio.to_thread(handle.start_postgres)

    async def pause_broker() -> None:
        handle.broker(signal.SIGSTOP)
        await asyncio.sleep(OUTAGE)
        handle.broker(signal.SIGCONT)

    async def schedule() -> None:
        at = 8.0
        for service in SERVICES:
            await fault(f"kill -9 {service}, restart", at, lambda s=service: kill_and_restart(s))  # type: ignore[misc]
            at += 12.0
        await fault("restart PostgreSQL", at, restart_postgres)
        await fault(f"stop PostgreSQL {OUTAGE:.0f} s", at + 12.0, stop_postgres)
        await fault(f"pause the broker {OUTAGE:.0f} s", at + 24.0 + OUTAGE, pause_broker)

    await asyncio.gather(stream.run(), schedule())
    streamed = time.monotonic() - stream.started

    # However slow the machine, wait while the backlog drains; stop when it settles or stops moving.
    await eventually(lambda: count(handle), Drained(), timeout=1200)
    settle = time.monotonic() - stream.started - streamed
    await asyncio.sleep(10.0)  # time for anything done twice to show
    final = await count(handle)
    platform = PlatformSettings(kafka_bootstrap_servers=handle.env["CERTWATCH_KAFKA_BOOTSTRAP_SERVERS"])
    dead: Counter[str] = Counter()
    for topic in Topic:
        for letter in await read_dlq(platform, topic.value, timeout_ms=500):
            dead[f"{topic.value}: {letter.headers.get('x-error', '')[:160]}"] += 1

    print(f"\nfault suite: {SIGNALS} signals streamed in {streamed:.0f} s ({stream.retries} posts retried), "
          f"settled {settle:.0f} s after the last; answers while a fault lasted: {dict(stream.server_errors)}")  # fmt: skip
    for f in faults:
        print(f"  {f.name:<28} at {f.at:5.0f} s  in flight {f.in_flight:5d}  lasted {f.lasted:5.1f} s  "
              f"all ready {f.recovered:5.1f} s after")  # fmt: skip
    print(f"  counts: {final}")
    for reason, n in dead.most_common(5):
        print(f"  dead letters: {n} x {reason}")
    print(f"  lost: signals {SIGNALS - final.signals}, risk events {SIGNALS - final.risk_events_distinct_signals}, "
          f"emails {SIGNALS - final.emails_distinct}, texts {SIGNALS - final.texts_distinct}, "
          f"reporting {SIGNALS - final.reporting_raised}; duplicated: risk events "
          f"{final.risk_events - final.risk_events_distinct_signals}, reporting {final.reporting_raised - SIGNALS}, "
          f"deliveries {final.deliveries.get('delivered', 0) - 2 * SIGNALS}; resent with the same key: emails "
          f"{final.emails - final.emails_distinct}, texts {final.texts - final.texts_distinct}; "
          f"dead letters {sum(dead.values())}")  # fmt: skip

    assert len(faults) == len(SERVICES) + 3
    assert not [e for e in stream.server_errors if not e.startswith("503")], stream.server_errors  # 503, never 500
    assert settled(final), final
    assert final.risk_events == final.risk_events_distinct_signals == SIGNALS  # none lost, none twice
    assert final.deliveries == {"delivered": 2 * SIGNALS}
    assert sum(dead.values()) == 0, dead
    # Only a notify killed mid-send resends, with the same key: at most the messages it had in flight.
    assert (final.emails - final.emails_distinct) + (final.texts - final.texts_distinct) <= SEND_CONCURRENCY
    handle.failed = False
