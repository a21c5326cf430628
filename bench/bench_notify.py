"""Benchmark: notify's delivery sender, against raw aiosmtplib, and the duplicate window under kill -9.

Starts a PostgreSQL cluster and the stack's SMTP sink (certwatch.mailsink: aiosmtpd in its own process, one
.eml file per message) in a temporary folder, so it needs no running stack and leaves nothing behind.

1. Throughput. N emails are queued as the consumers queue them; the sender delivers them (claim, send over
   pooled connections, mark with its NotificationDelivered in the outbox, one short transaction per message).
   The baseline sends the same N messages, composed the same way, with aiosmtplib over one connection, one
   after another, with no database at all. Prints deliveries/s of both and the ratio.
2. The window. N emails are queued; a sender process (this script with --child) is started, kill -9'd at a
   random moment while it sends, and started again, --kills times; then one finishes the rest. Counts the
   copies in the sink per idempotency key: every duplicate is a message the sink had accepted and its sender
   had not yet marked when it died. Prints kills, duplicates, duplicates per kill, and the delivery log's
   and the outbox's counts (which must be exactly N).

    .venv/bin/python bench/bench_notify.py [--messages 2000] [--repeat 3] [--window-messages 2000]
                                           [--window-concurrency 8,1] [--kills 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import shutil
import signal
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
    from certwatch import stack
    from certwatch.services import folder_of
    from shared.db.migrations import upgrade

    pg = stack.start_postgres(folder)
    password = secrets.token_urlsafe(16)
    await stack.provision_database(pg.admin_dsn, "bench", {"certwatch_notify": password})
    dsn = f"postgresql+asyncpg://certwatch_notify:{password}@127.0.0.1:{pg.port}/bench"
    await asyncio.to_thread(upgrade, folder_of("notify"), dsn)
    return pg, dsn


async def queue(db: Any, count: int) -> list[uuid.UUID]:
    """`count` emails queued for now, as the consumers record them; returns their ids (idempotency keys)."""
    from sqlalchemy.dialects.postgresql import insert

    from services.notify.models import Delivery

    organisation, ids = uuid.uuid4(), [uuid.uuid4() for _ in range(count)]
    rows = [
        {"id": i, "organisation_id": organisation, "risk_event_id": None, "channel": "email",
         "recipient": f"quality+{n}@hongyuan.example", "recipient_masked": f"q***+{n}@hongyuan.example",
         "template": "risk_event_raised", "subject": SUBJECT, "body": BODY, "status": "queued",
         "caused_by": uuid.uuid4()}
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


async def baseline(smtp_port: int, count: int) -> float:
    """Messages/s over one aiosmtplib connection, one after another, composed as the channel composes them."""
    import aiosmtplib

    from services.notify.channels import EmailChannel
    from services.notify.templates import Rendered

    compose = EmailChannel(settings_for("", smtp_port)).compose
    message = Rendered(SUBJECT, BODY)
    mails = [compose(f"quality+{n}@hongyuan.example", message, str(uuid.uuid4())) for n in range(count)]
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port, start_tls=False)
    await smtp.connect()
    started = time.perf_counter()
    for mail in mails:
        await smtp.send_message(mail)
    elapsed = time.perf_counter() - started
    await smtp.quit()
    return count / elapsed


async def throughput(dsn: str, smtp_port: int, maildir: Path, count: int, concurrency: int, pool: int) -> float:
    sender, db = sender_for(settings_for(dsn, smtp_port, send_concurrency=concurrency, smtp_pool_size=pool))
    try:
        ids = await queue(db, count)
        started = time.perf_counter()
        delivered = await sender.send_due()
        elapsed = time.perf_counter() - started
        assert delivered == count, f"{delivered} of {count} delivered"
        got = await counts(db, ids)
        assert got["delivered"] == count and got["queued"] == 0, got
        assert sum(copies(maildir, ids).values()) == count
    finally:
        await sender.close()
        await db.dispose()
    return count / elapsed


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
    from certwatch import stack

    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)  # stop cluster and sink too
    pg, sink = None, None
    try:
        pg, dsn = await provision(folder)
        sink = stack.start_mail_sink(folder)
        print(
            f"notify sender vs aiosmtplib, {args.messages} emails of {len(BODY.encode())} bytes to the stack's SMTP sink"
        )
        await throughput(dsn, sink.port, sink.maildir, 200, 8, 4)  # warm up: imports, connections, caches
        configs = ((1, 1), (8, 4), (16, 8))
        best: dict[Any, float] = {}
        for _ in range(args.repeat):  # interleaved, best of each: the machine's other load comes and goes
            best["baseline"] = max(best.get("baseline", 0.0), await baseline(sink.port, args.messages))
            for concurrency, pool in configs:
                rate = await throughput(dsn, sink.port, sink.maildir, args.messages, concurrency, pool)
                best[concurrency, pool] = max(best.get((concurrency, pool), 0.0), rate)
        base = best["baseline"]
        print(f"  baseline, aiosmtplib over 1 connection, no database: {base:8.0f} messages/s")
        for concurrency, pool in configs:
            rate = best[concurrency, pool]
            print(f"  sender, concurrency {concurrency:2d}, {pool} SMTP connection(s): {rate:8.0f} deliveries/s"
                  f"  ({rate / base:.2f} × baseline)")  # fmt: skip
        print(f"  (best of {args.repeat}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        for concurrency in (int(c) for c in args.window_concurrency.split(",")):
            found = await window(dsn, sink.port, sink.maildir, args.window_messages, concurrency, args.kills)
            print(f"the window, kill -9 while sending, concurrency {concurrency}: {found}")
            print(f"  {found['duplicates']} duplicate(s) in {found['kills']} kills: "
                  f"{found['duplicates'] / max(found['kills'], 1):.2f} per kill "
                  f"(at most {concurrency}, the messages in flight)")  # fmt: skip
    finally:
        if sink:
            sink.stop()
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
    folder = Path(tempfile.mkdtemp(prefix="certwatch-bench-notify-"))
    folder.chmod(0o755)  # PostgreSQL's unprivileged user must reach it
    try:
        asyncio.run(main(parser.parse_args(), folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
