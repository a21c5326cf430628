"""Benchmark: reporting on a backlog, beside raw aiokafka consuming the same messages in the same run.

For each of N risk events (`--events`, a list: 3,000 and 20,000 by default), what reporting reads of one signal in
the whole flow: `rules.risk-event-raised.v1` and `.v2` (the same event, v2 with its statutory clocks, built as
rules builds them: `review.clocks.raised_rows` over `ruleset.clocks.deadline`), and notify's `notification-
delivered` for its email and its SMS: 4 messages a risk event, keyed by organisation as the services key them. The
backlog: reporting's consuming process (its worker) is stopped, the messages produced (acks=all, linger 5 ms), and
the process started again as `certwatch up` starts it. Its rate is the growth of its own tables (this run's risk
events, clocks and notifications, whose ids start with the run's 4 bytes; polled every 0.25 s in the stack's
PostgreSQL) from the poll before the first that saw some of them to the one that saw all of them (its start-up left
out). Then the same messages are consumed again with raw aiokafka (no group, batches of 200) from the offsets they
were produced at: the ceiling of a consumer on this broker, in the same run. Peak RSS is reporting's process trees
(its API and its worker, sampled). The CPU reporting, PostgreSQL and other processes used while it counted is
printed with it, and messages per second of reporting's own CPU, which moves less with the machine's load than the
rate does.

Runs on the local stack (`certwatch up`; `CERTWATCH_DATA_DIR` chooses which), best while it is otherwise idle
(`make bench` runs it first). Every run uses new ids, so it can run again on the same stack.

    .venv/bin/python bench/bench_reporting.py [--events 3000,20000] [--no-notifications]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_flow import Stack, cpu_seconds, descendants, machine_busy, proc_status

from services.rules.review.clocks import raised_rows
from services.rules.ruleset.clocks import deadline
from shared.contracts import Envelope, Topic, deterministic_id
from shared.contracts.ingest import SignalKind
from shared.contracts.notify import Channel, NotificationDelivered
from shared.contracts.rules import (
    CertificateRef,
    CertificateStatus,
    ClockKind,
    MatchDecision,
    MatchSummary,
    Measure,
    RiskEventRaised,
    Severity,
)

TARGET = 3_000  # events/s, issue 13
PROVINCES = ["浙江省", "广东省", "江苏省", "山东省", None]
Message = tuple[str, bytes, bytes]  # topic, key, value


def _envelope(topic: Topic, payload: object, event_id: uuid.UUID) -> bytes:
    envelope = Envelope[type(payload)](  # type: ignore[misc]
        event_id=event_id, event_type=topic.event_type, producer=topic.producer, payload=payload
    )
    return envelope.model_dump_json().encode()


def _ours(run: str) -> uuid.UUID:
    """A random id that starts with the run's 4 bytes: this run's rows are a range of the tables' indexes."""
    return uuid.UUID(bytes=bytes.fromhex(run) + os.urandom(12))


def messages_of(run: str, n: int, notifications: bool) -> tuple[list[Message], int]:
    """The messages of one signal's risk event, n times over, and how many clocks they carry. Every event has
    the short-notice audit's clock (a national spot-check failure of a management-system certificate); one in
    three is also matched by its credit code and recommends suspension, which starts the suspension clock."""
    today, published = datetime.now(UTC).date(), datetime.now(UTC).date() - timedelta(days=3)
    found: list[Message] = []
    clocks = 0
    for i in range(n):
        org_id, event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{run}/org/{i % 997}"), _ours(run)
        name = f"杭州{run}{i % 997}号电器有限公司"
        suspends = i % 3 == 0
        started = [deadline(ClockKind.SHORT_NOTICE_AUDIT, published)]
        if suspends:
            started.append(deadline(ClockKind.SUSPENSION, today))
        event = RiskEventRaised(
            risk_event_id=event_id, organisation_id=org_id, organisation_name=name, signal_id=uuid.uuid4(),
            signal_kind=SignalKind.SPOT_CHECK_FAILURE, rule_id="spot-check-national", rule_version=1,
            severity=Severity.HIGH, recommended_measure=Measure.SUSPEND if suspends else Measure.SPECIAL_AUDIT,
            title=f"国家监督抽查不合格：{name}（生产者）",
            summary="信号：国家监督抽查不合格；角色：生产者；产品：电动自行车用充电器；不合格项目：输出电压；"
            "公告：市场监管总局2026年第1号；建议措施：暂停认证证书（认证机构管理办法 Art. 21）",
            decision_due=today + timedelta(days=10), province=PROVINCES[i % len(PROVINCES)],
            certificates=[
                CertificateRef(certificate_id=uuid.uuid5(org_id, t), number=f"{t}-{run}-{i % 997:05d}", type=t,
                               status=CertificateStatus.VALID)
                for t in (["ISO9001", "CCC"] if i % 2 else ["ISO9001"])
            ],
            match=MatchSummary(score=1.0, decision=MatchDecision.MATCH, method="credit_code",
                               explanation="统一社会信用代码一致"),
            raised_at=datetime.now(UTC),
        )  # fmt: skip
        _, v2 = raised_rows(event, tuple(started), {"published_on": published.isoformat()})  # type: ignore[arg-type]
        clocks += len(v2.clocks)
        key = str(org_id).encode()
        found.append((Topic.RISK_EVENT_RAISED.value, key, _envelope(Topic.RISK_EVENT_RAISED, event,
                      deterministic_id("risk-event-raised", event_id))))  # fmt: skip
        found.append((Topic.RISK_EVENT_RAISED_V2.value, key, _envelope(Topic.RISK_EVENT_RAISED_V2, v2,
                      deterministic_id("risk-event-raised.v2", event_id))))  # fmt: skip
        if notifications:
            for channel, to in ((Channel.EMAIL, "q***@example.com"), (Channel.SMS, "138****0000")):
                sent = NotificationDelivered(
                    notification_id=_ours(run), organisation_id=org_id, risk_event_id=event_id, channel=channel,
                    recipient_masked=to, template="risk_event_raised", attempts=1, delivered_at=datetime.now(UTC),
                )  # fmt: skip
                found.append((Topic.NOTIFICATION_DELIVERED.value, key,
                              _envelope(Topic.NOTIFICATION_DELIVERED, sent, uuid.uuid4())))  # fmt: skip
    return found, clocks


async def produce(bootstrap: str, messages: list[Message]) -> tuple[float, dict[tuple[str, int], int]]:
    """(msgs/s, the first offset this run wrote per partition)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, enable_idempotence=False)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(topic, value=value, key=key) for topic, key, value in messages]
        sent = await asyncio.gather(*futures)
        rate = len(messages) / (time.perf_counter() - started)
    finally:
        await producer.stop()
    first: dict[tuple[str, int], int] = {}
    for meta in sent:
        tp = (meta.topic, meta.partition)
        first[tp] = min(first.get(tp, meta.offset), meta.offset)
    return rate, first


async def consume_baseline(bootstrap: str, first: dict[tuple[str, int], int], count: int) -> float:
    """Raw aiokafka: the same messages read again from where this run wrote them, msgs/s."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(t, p) for t, p in first])
        for (t, p), offset in first.items():
            consumer.seek(TopicPartition(t, p), offset)
        seen, started = 0, time.perf_counter()
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=200)
            seen += sum(len(records) for records in batch.values())
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()


COUNT = (
    "SELECT (SELECT count(*) FROM reporting.risk_events WHERE risk_event_id BETWEEN $1 AND $2)"
    " + (SELECT count(*) FROM reporting.clocks WHERE risk_event_id BETWEEN $1 AND $2)"
    " + (SELECT count(*) FROM reporting.notifications WHERE notification_id BETWEEN $1 AND $2)"
)


@dataclass
class Result:
    events: int
    messages: int
    produced: float
    rate: float
    started_after: float  # s from the consumer's restart to its first row
    seconds: float
    baseline: float
    rss_mb: float
    cores: dict[str, float]


@dataclass
class Poll:
    at: float
    rows: int
    reporting_cpu: float
    postgres_cpu: float
    busy: float


def _pids() -> tuple[list[int], list[int]]:
    """reporting's processes (its api and worker, and their children) and PostgreSQL's, now."""
    from certwatch import stack as local
    from shared.settings import data_dir

    pids = {r["name"]: r["pid"] for r in local.status(data_dir()) if r["pid"]}
    reporting = [p for name, pid in pids.items() if name.startswith("reporting") for p in (pid, *descendants(pid))]
    return reporting, [pids["postgres"], *descendants(pids["postgres"])]


def _stop_consuming() -> None:
    """Stop reporting's consuming process (its worker; the one process where api and worker are not apart)."""
    from certwatch import stack as local
    from certwatch.stack.processes import terminate
    from shared.settings import data_dir

    state = local.read_state(data_dir())
    entry = state.get("workers", {}).get("reporting") or state["services"]["reporting"]
    terminate(entry["pid"], started=entry.get("started"))


async def run(stack: Stack, n: int, notifications: bool, timeout: float) -> Result:
    """The backlog: reporting's consumer stopped, this run's messages produced, the consumer started again
    (`certwatch up` starts what is not running); its rate counted from the poll before its first row."""
    from certwatch import stack as local
    from shared.settings import data_dir

    run_id = uuid.uuid4().hex[:8]
    ours = (uuid.UUID(run_id + "0" * 24), uuid.UUID(run_id + "f" * 24))
    messages, clocks = messages_of(run_id, n, notifications)
    expected = n + clocks + (2 * n if notifications else 0)  # rows: risk events, clocks, notifications
    _stop_consuming()
    produced, first = await produce(stack.bootstrap, messages)
    await asyncio.to_thread(local.up, data_dir())
    reporting, postgres = _pids()
    conn = await asyncpg.connect(stack.admin_dsn)
    polls: list[Poll] = []
    peak_kb = 0
    try:
        deadline_at = time.monotonic() + timeout
        while time.monotonic() < deadline_at:
            done = int(await conn.fetchval(COUNT, *ours))
            polls.append(Poll(time.monotonic(), done, sum(cpu_seconds(p) for p in reporting),
                              sum(cpu_seconds(p, p == postgres[0]) for p in postgres), machine_busy()))  # fmt: skip
            peak_kb = max(peak_kb, sum(proc_status(p).get("VmRSS", 0) for p in reporting))
            if done >= expected:
                break
            await asyncio.sleep(0.25)
        else:
            raise SystemExit(f"reporting had {polls[-1].rows} of {expected} rows after {timeout:.0f} s")
    finally:
        await conn.close()
    start = next(i for i, poll in enumerate(polls) if poll.rows > 0)
    first_poll, last = polls[max(0, start - 1)], polls[-1]  # the work started after the poll before its first row
    wall = last.at - first_poll.at
    cores = {"reporting": (last.reporting_cpu - first_poll.reporting_cpu) / wall,
             "postgres": (last.postgres_cpu - first_poll.postgres_cpu) / wall}  # fmt: skip
    cores["others"] = max(0.0, (last.busy - first_poll.busy) / wall - sum(cores.values()))
    baseline = await consume_baseline(stack.bootstrap, first, len(messages))
    return Result(n, len(messages), produced, len(messages) / wall, first_poll.at - polls[0].at, wall, baseline,
                  peak_kb / 1024, cores)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", default="3000,20000", help="risk events per run, comma-separated")
    parser.add_argument("--no-notifications", action="store_true", help="only the v1 and v2 risk-event-raised")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    stack = Stack.find()
    print(f"reporting on a backlog (stack {os.environ.get('CERTWATCH_DATA_DIR', '.data')}); load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip
    print(
        "| risk events | messages | produced msgs/s | reporting msgs/s | raw aiokafka consume msgs/s | ratio | "
        "s to first row / counting | reporting peak RSS | cores: reporting, PostgreSQL, other processes | "
        "msgs per reporting CPU-second | target |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in (int(x) for x in args.events.split(",")):
        r = asyncio.run(run(stack, n, not args.no_notifications, args.timeout))
        ok = "PASS" if r.rate >= TARGET else "FAIL"
        print(f"| {r.events:,} | {r.messages:,} | {r.produced:,.0f} | {r.rate:,.0f} | {r.baseline:,.0f} | "
              f"1/{r.baseline / r.rate:.1f} | {r.started_after:.1f} s / {r.seconds:.1f} s | {r.rss_mb:.0f} MB | "
              f"{r.cores['reporting']:.2f}, {r.cores['postgres']:.2f}, {r.cores['others']:.2f} | "
              f"{r.messages / max(1e-9, r.cores['reporting'] * r.seconds):,.0f} | ≥ {TARGET:,}/s {ok} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
