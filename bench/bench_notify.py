"""Benchmark: notify's delivery sender, against raw aiosmtplib and raw aiohttp, and the duplicate window under kill -9.

Starts a PostgreSQL cluster and the stack's sinks (certwatch.mailsink: aiosmtpd in its own process, one .eml
file per message; certwatch.smssink: one .json file per text) in a temporary folder, so it needs no running
stack and leaves nothing behind.

1. Throughput. N emails (then N texts) are queued as the consumers queue them; the sender delivers them
   (claims in batches, sends over pooled connections, marks outcomes in batches with their
   NotificationDelivered in the outbox). The email baseline sends the same N messages, composed the same way,
   with aiosmtplib over the same number of connections at once (an SMTP connection carries one message at a
   time, so that is the same concurrency), with no database at all; the SMS baseline posts the same N texts
   with one aiohttp session (the channel's client; `--sms-baselines aiohttp,httpx` adds httpx, its client
   before), the same number at a time. Prints the rates of both and the ratio, this process's CPU per
   message (which the machine's other load changes far less than the rates), and the sent-not-marked
   window: per message, from the sink's acceptance (its file's time) to the mark's commit.
2. The window under kill -9. N emails are queued; a sender process (this script with --child) is started, kill -9'd at a
   random moment while it sends, and started again, --kills times; then one finishes the rest. Counts the
   copies in the sink per idempotency key: every duplicate is a message the sink had accepted and its sender
   had not yet marked when it died. Prints kills, duplicates, duplicates per kill, and the delivery log's
   and the outbox's counts (which must be exactly N).

    .venv/bin/python bench/bench_notify.py [--messages 2000] [--repeat 3] [--window-messages 2000]
                                           [--window-concurrency 8,1] [--kills 40] [--sms-concurrency 8,16]
                                           [--email 1:1,8:4,16:8] [--sms-baselines aiohttp,httpx]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

os.environ["CERTWATCH_DATA_DIR"] = tempfile.gettempdir()  # read no local stack's stack.env: all is set here

SUBJECT = "【认证风险提示】浙江宏远电器有限公司：产品监督抽查不合格（输出电压）"
BODY = (
    "浙江宏远电器有限公司：\n\n"
    + "根据市场监管总局2024年第11号通告，贵单位生产的电动自行车用充电器（型号 HY-4820A）经产品质量监督抽查，"
    "输出电压项目不合格。该产品持有强制性产品认证证书 2022010703004512。请于30日内提交书面说明及整改计划。\n"
    * 6
    + "\n认证监督部（certification surveillance desk），电话 400-000-0000\n"
)
ROOT = Path(__file__).resolve().parent.parent
KEY = re.compile(rb"^X-Certwatch-Idempotency-Key: (\S+)", re.MULTILINE)


def settings_for(dsn: str, smtp_port: int, **overrides: Any) -> Any:
    from services.notify.settings import NotifySettings

    return NotifySettings(database_url=dsn, smtp_port=smtp_port, **overrides)


def sender_for(settings: Any) -> tuple[Any, Any]:
    from services.notify.channels import EmailChannel, SmsChannel
    from services.notify.models import messaging
    from services.notify.sender import Sender
    from shared.db.session import Database
    from shared.kafka.outbox import Outbox

    db = Database(settings)
    channels = {"email": EmailChannel(settings), "sms": SmsChannel(settings)}
    return Sender(settings, Outbox(messaging.outbox, "notify"), channels), db  # type: ignore[arg-type]


async def provision(folder: Path) -> tuple[Any, str]:
    """A private cluster with notify's role and schema, migrated; returns (handle, notify's DSN)."""
    from certwatch.services import folder_of
    from certwatch.stack.postgres import provision_database, start_postgres
    from shared.db.migrations import upgrade

    pg = start_postgres(folder)
    password = secrets.token_urlsafe(16)
    await provision_database(pg.admin_dsn, "bench", {"certwatch_notify": password})
    dsn = f"postgresql+asyncpg://certwatch_notify:{password}@127.0.0.1:{pg.port}/bench"
    await asyncio.to_thread(upgrade, folder_of("notify"), dsn)
    return pg, dsn


SMS_TEXT = SUBJECT + " 请于30日内提交书面说明。认证监督部 400-000-0000"


async def queue(db: Any, count: int, channel: str = "email") -> list[uuid.UUID]:
    """`count` emails (or texts) queued for now, as the consumers record them; returns their ids (idempotency
    keys)."""
    from sqlalchemy.dialects.postgresql import insert

    from services.notify.models import Delivery

    organisation, ids = uuid.uuid4(), [uuid.uuid4() for _ in range(count)]
    email = channel == "email"
    rows = [
        {"id": i, "organisation_id": organisation, "risk_event_id": None, "channel": channel,
         "recipient": f"quality+{n}@hongyuan.example" if email else f"+86138{n:08d}",
         "recipient_masked": f"q***+{n}@hongyuan.example" if email else f"+86138****{n % 10000:04d}",
         "template": "risk_event_raised", "subject": SUBJECT if email else SMS_TEXT, "body": BODY if email else None,
         "status": "queued", "caused_by": uuid.uuid4()}
        for n, i in enumerate(ids)
    ]  # fmt: skip
    async with db.transaction() as session:
        for start in range(0, count, 1000):
            await session.execute(insert(Delivery).values(rows[start : start + 1000]))
    return ids


async def counts(db: Any, ids: list[uuid.UUID]) -> dict[str, int]:
    """Of these deliveries: how many are delivered, still queued, and published as delivered (outbox)."""
    from sqlalchemy import func, select

    from services.notify.models import Delivery, messaging
    from shared.contracts import deterministic_id

    outbox = messaging.outbox
    async with db.sessions() as session:
        grouped = select(Delivery.status, func.count()).where(Delivery.id.in_(ids)).group_by(Delivery.status)
        by_status: dict[str, int] = {status: n for status, n in (await session.execute(grouped)).all()}
        topic = "notify.notification-delivered.v1"
        event_ids = [deterministic_id(topic, i) for i in ids]
        events = await session.scalar(select(func.count()).select_from(outbox).where(outbox.c.event_id.in_(event_ids)))
    return {"delivered": by_status.get("delivered", 0), "failed": by_status.get("failed", 0),
            "queued": by_status.get("queued", 0), "events": events or 0}  # fmt: skip


def copies(maildir: Path, ids: list[uuid.UUID]) -> Counter[str]:
    """How many copies of each of these messages the sink holds."""
    wanted = {str(i) for i in ids}
    found: Counter[str] = Counter()
    for path in maildir.glob("*.eml"):
        match = KEY.search(path.read_bytes()[:4096])
        if match and match.group(1).decode() in wanted:
            found[match.group(1).decode()] += 1
    return found


def accepted(maildir: Path, ids: list[uuid.UUID], sms: bool = False) -> dict[str, float]:
    """When the sink accepted each of these messages (its file's time), by idempotency key."""
    wanted, found = {str(i) for i in ids}, dict[str, float]()
    for path in maildir.glob("*.json" if sms else "*.eml"):
        if sms:
            key = json.loads(path.read_text(encoding="utf-8")).get("idempotency_key")
        else:
            match = KEY.search(path.read_bytes()[:4096])
            key = match.group(1).decode() if match else None
        if key in wanted:
            found[key] = min(found.get(key, float("inf")), path.stat().st_mtime)
    return found


async def window_measured(db: Any, maildir: Path, ids: list[uuid.UUID], sms: bool = False) -> list[float]:
    """Per message, seconds from the sink's acceptance to the commit of its mark (finished_at is the
    statement's start, which is its commit's moment to within the statement's own few milliseconds)."""
    from sqlalchemy import select

    from services.notify.models import Delivery

    sent = accepted(maildir, ids, sms)
    async with db.sessions() as session:
        rows = (await session.execute(select(Delivery.id, Delivery.finished_at).where(Delivery.id.in_(ids)))).all()
    return [max(0.0, r.finished_at.timestamp() - sent[str(r.id)]) for r in rows if str(r.id) in sent and r.finished_at]


def spread(seconds: list[float]) -> str:
    if not seconds:
        return "n/a"
    ms = sorted(x * 1000 for x in seconds)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"p50 {statistics.median(ms):.0f} ms, p99 {p99:.0f} ms, max {ms[-1]:.0f} ms"


def process_cpu() -> float:
    """CPU seconds this process has used (user and system): the cost per message, which the machine's other
    load changes far less than the rates."""
    times = os.times()
    return times.user + times.system


async def with_cpu(count: int, rate: Any) -> tuple[float, float]:
    """(the rate `rate` measures, this process's CPU milliseconds per message meanwhile)."""
    cpu = process_cpu()
    measured = await rate
    return measured, (process_cpu() - cpu) * 1000 / count


async def baseline(smtp_port: int, count: int, connections: int = 1) -> float:
    """Messages/s over `connections` aiosmtplib connections at once, each sending its share one after another,
    composed as the channel composes them (send_message flattens each), with no database."""
    import aiosmtplib

    from services.notify.channels import EmailChannel
    from services.notify.templates import Rendered

    compose = EmailChannel(settings_for("", smtp_port)).compose
    message = Rendered(SUBJECT, BODY)
    mails = [compose(f"quality+{n}@hongyuan.example", message, str(uuid.uuid4())) for n in range(count)]
    smtps = [aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port, start_tls=False) for _ in range(connections)]
    for smtp in smtps:
        await smtp.connect()

    async def send(smtp: Any, share: list[Any]) -> None:
        for mail in share:
            await smtp.send_message(mail)

    started = time.perf_counter()
    await asyncio.gather(*(send(smtp, mails[n::connections]) for n, smtp in enumerate(smtps)))
    elapsed = time.perf_counter() - started
    for smtp in smtps:
        await smtp.quit()
    return count / elapsed


async def sms_baseline(sms_url: str, count: int, concurrency: int, client: str = "aiohttp") -> float:
    """Texts/s posted by one client (aiohttp, as the channel; or httpx, the channel's client before) over
    `concurrency` kept-alive connections, `concurrency` at a time, as the channel posts them, with no database."""
    left = list(range(count))

    def text() -> tuple[dict[str, str], str]:
        n, key = left.pop(), str(uuid.uuid4())
        return {"to": f"+86138{n:08d}", "text": SMS_TEXT, "idempotency_key": key}, key

    if client == "httpx":
        import httpx

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(timeout=10.0, limits=limits) as http:

            async def post() -> None:
                while left:
                    body, key = text()
                    response = await http.post(sms_url, json=body, headers={"Idempotency-Key": key})
                    response.raise_for_status()
                    response.json()

            started = time.perf_counter()
            await asyncio.gather(*(post() for _ in range(concurrency)))
            return count / (time.perf_counter() - started)
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10.0)) as session:

        async def send() -> None:
            while left:
                body, key = text()
                async with session.post(sms_url, json=body, headers={"Idempotency-Key": key}) as response:
                    response.raise_for_status()
                    await response.json()

        started = time.perf_counter()
        await asyncio.gather(*(send() for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


async def throughput(
    dsn: str, smtp_port: int, maildir: Path, count: int, concurrency: int, pool: int, sms_url: str | None = None
) -> tuple[float, list[float], float]:
    """Deliveries/s of emails (or, with `sms_url`, texts at `concurrency`), the window of each message, and
    this process's CPU milliseconds per message (the sender's, and its database client's)."""
    overrides: dict[str, Any] = {"send_concurrency": concurrency, "smtp_pool_size": pool}
    if sms_url:
        overrides = {"sms_gateway_url": sms_url, "sms_concurrency": concurrency}
    sender, db = sender_for(settings_for(dsn, smtp_port, **overrides))
    try:
        ids = await queue(db, count, "sms" if sms_url else "email")
        started, cpu = time.perf_counter(), process_cpu()
        delivered = await sender.send_due()
        elapsed, cpu = time.perf_counter() - started, process_cpu() - cpu
        assert delivered == count, f"{delivered} of {count} delivered"
        got = await counts(db, ids)
        assert got["delivered"] == count and got["queued"] == 0, got
        if not sms_url:
            assert sum(copies(maildir, ids).values()) == count
        window = await window_measured(db, maildir, ids, sms=bool(sms_url))
        assert len(window) == count, f"{len(window)} of {count} found in the sink"
    finally:
        await sender.close()
        await db.dispose()
    return count / elapsed, window, cpu * 1000 / count


async def window(dsn: str, smtp_port: int, maildir: Path, count: int, concurrency: int, kills: int) -> dict[str, Any]:
    """Kill -9 `kills` sender processes, each at a random moment while it sends, then let one finish the rest;
    count what went twice."""
    lease = 5.0  # a killed sender's claims lapse after this; a live one never comes near it
    _, db = sender_for(settings_for(dsn, smtp_port))
    ids = await queue(db, count)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, __file__, "--child", dsn, str(smtp_port), str(concurrency), str(lease)]
    killed = 0
    try:
        while (await counts(db, ids))["queued"]:
            child = await asyncio.create_subprocess_exec(
                *argv, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
            )
            try:
                before = (await counts(db, ids))["delivered"]
                while child.returncode is None:  # until it has marked a message (it is sending), or all is done
                    now = await counts(db, ids)
                    if not now["queued"] or (killed < kills and now["delivered"] > before):
                        break
                    await asyncio.sleep(0.02)
                await asyncio.sleep(random.uniform(0.0, 0.25))
                if killed < kills and (await counts(db, ids))["queued"]:
                    killed += 1
            finally:
                if child.returncode is None:
                    child.kill()  # SIGKILL: no shutdown, nothing flushed
                await child.wait()
        got = await counts(db, ids)
    finally:
        await db.dispose()
    sent = copies(maildir, ids)
    duplicates = sum(sent.values()) - len(sent)
    return {"messages": count, "concurrency": concurrency, "kills": killed, "sent": sum(sent.values()),
            "distinct": len(sent), "duplicates": duplicates, "most copies": max(sent.values(), default=0),
            "delivered in the log": got["delivered"], "failed in the log": got["failed"],
            "delivered events": got["events"]}  # fmt: skip


async def child(dsn: str, smtp_port: int, concurrency: int, lease: float) -> None:
    """A sender on its own, as the service runs it, until it is killed."""
    settings = settings_for(dsn, smtp_port, send_concurrency=concurrency, send_lease_seconds=lease,
                            deliver_poll_seconds=0.05)  # fmt: skip
    sender, _ = sender_for(settings)
    await sender.run(asyncio.Event())


async def main(args: argparse.Namespace, folder: Path) -> None:
    from certwatch.stack.sinks import start_mail_sink, start_sms_sink

    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)  # stop cluster and sink too
    pg, sink, texts = None, None, None
    clients = [c for c in args.sms_baselines.split(",") if c]
    try:
        pg, dsn = await provision(folder)
        sink = start_mail_sink(folder)
        texts = start_sms_sink(folder)
        sms_url = f"http://127.0.0.1:{texts.port}/sms"
        print(f"notify sender vs aiosmtplib, {args.messages} emails of {len(BODY.encode())} bytes to the stack's "
              f"SMTP sink; vs {'/'.join(clients)}, {args.messages} texts to the stack's SMS sink")  # fmt: skip
        await throughput(dsn, sink.port, sink.maildir, 200, 8, 4)  # warm up: imports, connections, caches
        await throughput(dsn, sink.port, texts.maildir, 200, 8, 1, sms_url)
        configs = [tuple(int(n) for n in c.split(":")) for c in args.email.split(",") if c]
        sms_configs = [int(c) for c in args.sms_concurrency.split(",") if c]
        best: dict[Any, tuple[float, float]] = {}  # (rate, CPU ms per message in this process)
        windows: dict[Any, list[float]] = {}

        def keep(key: Any, rate: float, cpu: float, window: list[float] | None = None) -> None:
            if rate > best.get(key, (0.0, 0.0))[0]:
                best[key] = rate, cpu
                if window is not None:
                    windows[key] = window

        n = args.messages
        for _ in range(args.repeat):  # interleaved, best of each: the machine's other load comes and goes
            for concurrency, pool in configs:
                keep(("aiosmtplib", pool), *await with_cpu(n, baseline(sink.port, n, pool)))
                rate, seconds, cpu = await throughput(dsn, sink.port, sink.maildir, n, concurrency, pool)
                keep(("email", concurrency, pool), rate, cpu, seconds)
            for concurrency in sms_configs:
                for client in clients:
                    keep((client, concurrency), *await with_cpu(n, sms_baseline(sms_url, n, concurrency, client)))
                rate, seconds, cpu = await throughput(dsn, sink.port, texts.maildir, n, concurrency, 1, sms_url)
                keep(("sms", concurrency), rate, cpu, seconds)
        for concurrency, pool in configs:
            (rate, cpu), (base, base_cpu) = best["email", concurrency, pool], best["aiosmtplib", pool]
            print(f"  email, concurrency {concurrency:2d} over {pool} SMTP connection(s): {rate:6.0f} deliveries/s"
                  f" ({cpu:.2f} ms CPU each); aiosmtplib over {pool} connection(s), no database: {base:6.0f}/s"
                  f" ({base_cpu:.2f} ms); {rate / base:.2f}×  (window {spread(windows['email', concurrency, pool])})")  # fmt: skip
        for concurrency in sms_configs:
            rate, cpu = best["sms", concurrency]
            against = "; ".join(
                f"{client} {concurrency} at a time, no database: {best[client, concurrency][0]:6.0f}/s"
                f" ({best[client, concurrency][1]:.2f} ms), {rate / best[client, concurrency][0]:.2f}×"
                for client in clients
            )
            print(f"  sms, concurrency {concurrency:2d}: {rate:6.0f} texts/s ({cpu:.2f} ms CPU each); {against}"
                  f"  (window {spread(windows['sms', concurrency])})")  # fmt: skip
        print(f"  (best of {args.repeat}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; the window"
              f" is from the sink's acceptance to the mark's commit)")  # fmt: skip
        for concurrency in (int(c) for c in args.window_concurrency.split(",") if c):
            found = await window(dsn, sink.port, sink.maildir, args.window_messages, concurrency, args.kills)
            print(f"the window, kill -9 while sending, concurrency {concurrency}: {found}")
            print(f"  {found['duplicates']} duplicate(s) in {found['kills']} kills: "
                  f"{found['duplicates'] / max(found['kills'], 1):.2f} per kill "
                  f"(at most the {concurrency} in flight and the outcomes waiting for their batch's mark)")  # fmt: skip
    finally:
        if sink:
            sink.stop()
        if texts:
            texts.stop()
        if pg:
            pg.stop()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        dsn, port, concurrency, lease = sys.argv[2:6]
        asyncio.run(child(dsn, int(port), int(concurrency), float(lease)))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--window-messages", type=int, default=2000)
    parser.add_argument("--window-concurrency", default="8,1")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kills", type=int, default=40, help="sender processes kill -9'd per window run")
    parser.add_argument(
        "--sms-concurrency", default="8,16", help="texts in flight at once, comma-separated (empty: no texts)"
    )
    parser.add_argument(
        "--email", default="1:1,8:4,16:8", help="emails in flight:SMTP connections, comma-separated (empty: no email)"
    )
    parser.add_argument(
        "--sms-baselines",
        default="aiohttp",
        help="raw clients to compare the texts with: aiohttp (the channel's), httpx (its client before)",
    )
    folder = Path(tempfile.mkdtemp(prefix="certwatch-bench-notify-"))
    folder.chmod(0o755)  # PostgreSQL's unprivileged user must reach it
    try:
        asyncio.run(main(parser.parse_args(), folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
