"""notify sends after commit (issue 12 item 2), on real PostgreSQL, the real broker and real SMTP servers.

The consumer only records a queued delivery; the sender claims, sends and marks it. A mail server that holds
a message holds no consumer transaction; a sender killed between a send and its mark sends that message
once more, with the same idempotency key, and the delivery log and the published events still count one;
replicas never send a message twice; transient failures are retried on a fresh connection, permanent ones
are not, and no full address reaches a log line or an event.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from prometheus_client import REGISTRY
from pydantic import BaseModel
from sqlalchemy import func, select

from certwatch.stack.processes import free_port
from services.notify.channels import Channel, EmailChannel, SmsChannel
from services.notify.main import create_app as notify_app
from services.notify.models import Delivery, messaging
from services.notify.sender import Sender
from services.notify.service import Notifier
from services.notify.settings import NotifySettings
from shared.contracts import Envelope, Topic, deterministic_id
from shared.contracts.rules import Contact, OrganisationUpdated, RiskEventRaised
from shared.db.session import Database
from shared.kafka.outbox import Outbox
from shared.kafka.producer import Producer
from shared.settings import PlatformSettings
from tests.support.events import risk_event_raised
from tests.support.infra import running
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
DELIVERED = Topic.NOTIFICATION_DELIVERED.value


class MailServer:
    """An in-process SMTP server (aiosmtpd) whose answers the test decides: it can hold every message until
    `opened` (before or after keeping it), be slow, refuse a recipient for good (550) or answer 421 a given
    number of times first."""

    def __init__(self, delay: float = 0.0) -> None:
        self.port = free_port()
        self.delay = delay
        self.opened = threading.Event()
        self.opened.set()
        self.store_first = False  # True: keep each message, then hold the 250 until `opened`
        self.arrived = threading.Event()  # a message's DATA reached the server
        self.messages: list[tuple[Any, EmailMessage]] = []  # (the connection's peer, the message)
        self.refused: set[str] = set()
        self.flaky: dict[str, int] = {}
        self.failed_peers: list[Any] = []
        self.active = self.peak = 0
        self._lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refused:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            if self.store_first:  # accepted (kept for delivery), the answer not given yet
                self.keep(session, envelope)
            self.arrived.set()
            await asyncio.get_running_loop().run_in_executor(None, self.opened.wait)
            await asyncio.sleep(self.delay)
            [to] = envelope.rcpt_tos
            if self.flaky.get(to, 0) > 0:
                self.flaky[to] -= 1
                self.failed_peers.append(session.peer)
                return "421 4.3.2 try again later"
            if not self.store_first:
                self.keep(session, envelope)
            return "250 OK"
        finally:
            with self._lock:
                self.active -= 1

    def keep(self, session: Any, envelope: Any) -> None:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((session.peer, message))

    def to(self, address: str) -> list[EmailMessage]:
        return [m for _, m in self.messages if m["To"] == address]


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    server = MailServer()
    server.controller.start()
    try:
        yield server
    finally:
        server.opened.set()  # nothing stays held
        server.controller.stop()


def contact(address: str) -> Contact:
    return Contact(name="王经理", email=address, channels=["email"])


def organisation(*addresses: str) -> OrganisationUpdated:
    return OrganisationUpdated(
        organisation_id=uuid.uuid4(), name="浙江宏远电器有限公司", revision=1, updated_at=datetime.now(UTC),
        contacts=[contact(a) for a in addresses],
    )  # fmt: skip


def address() -> str:
    return f"quality+{uuid.uuid4().hex[:8]}@hongyuan.example"


def raised_for(org: OrganisationUpdated) -> RiskEventRaised:
    return risk_event_raised("产品监督抽查不合格", organisation_id=org.organisation_id, organisation_name=org.name)


async def queue(db: Database, settings: NotifySettings, org: OrganisationUpdated, *events: RiskEventRaised) -> None:
    """What the consumers do, as one transaction: keep the contacts, record the messages."""
    notifier = Notifier(settings)
    async with db.transaction() as session:
        await notifier.organisations_updated(session, [(org, uuid.uuid4(), None)])
        await notifier.risk_events_raised(session, [(event, uuid.uuid4(), None) for event in events])


def sender_for(settings: NotifySettings) -> Sender:
    channels: dict[str, Channel] = {"email": EmailChannel(settings), "sms": SmsChannel(settings)}
    return Sender(settings, Outbox(messaging.outbox, "notify"), channels)


@asynccontextmanager
async def database(settings: NotifySettings) -> AsyncIterator[Database]:
    db = Database(settings)
    try:
        yield db
    finally:
        await db.dispose()


async def deliveries(db: Database) -> list[Delivery]:
    async with db.sessions() as session:
        return list((await session.scalars(select(Delivery).order_by(Delivery.created_at))).all())


async def events_on(db: Database, topic: str) -> list[dict[str, Any]]:
    """The events queued in notify's outbox on `topic` (payloads)."""
    table = messaging.outbox
    async with db.sessions() as session:
        rows = (await session.execute(select(table.c.event_id, table.c.envelope).where(table.c.topic == topic))).all()
    return [
        {"event_id": r.event_id, "correlation_id": r.envelope["correlation_id"], **r.envelope["payload"]} for r in rows
    ]


async def processed(db: Database, event_id: uuid.UUID) -> bool:
    inbox = messaging.inbox
    async with db.sessions() as session:
        found = await session.scalar(select(func.count()).select_from(inbox).where(inbox.c.event_id == event_id))
    return bool(found)


async def publish(platform: PlatformSettings, topic: Topic, key: uuid.UUID, payload: BaseModel) -> uuid.UUID:
    """Publish as rules does; the correlation id is the event's own id (as text)."""
    event_id = uuid.uuid4()
    envelope: Any = Envelope[type(payload)](  # type: ignore[misc]
        event_id=event_id, event_type=topic.event_type, producer="rules", payload=payload, correlation_id=str(event_id)
    )
    producer = Producer(platform, client_id="test")
    await producer.start()
    try:
        await producer.send(topic.value, str(key), envelope.model_dump_json().encode())
    finally:
        await producer.stop()
    return uuid.UUID(str(envelope.event_id))


async def test_the_consumer_commits_before_anything_is_sent_so_a_held_message_holds_no_transaction(
    platform, service_settings, mail_server
) -> None:
    """Fails on the code before the delivery outbox: it sent inside the consumer's transaction, so while the
    mail server held the message nothing of the event was committed and the partition waited."""
    mail_server.opened.clear()  # the server takes each message and answers only when the test says so
    settings = service_settings("notify", smtp_port=mail_server.port, smtp_timeout_seconds=120)
    to = address()
    org = organisation(to)
    first, second = raised_for(org), raised_for(org)
    async with database(settings) as db, running(notify_app(settings, platform)):
        org_id = await publish(platform, Topic.ORGANISATION_UPDATED, org.organisation_id, org)
        await eventually(lambda: processed(db, org_id), bool)  # the contacts first: the alert is not parked
        first_id = await publish(platform, Topic.RISK_EVENT_RAISED_V2, org.organisation_id, first)

        async def held() -> bool:
            return mail_server.arrived.is_set()

        await eventually(held, bool)  # the first message is at the server, which holds it
        # Meanwhile its event is committed (the inbox row and the queued delivery are visible) ...
        assert await eventually(lambda: processed(db, first_id), bool, timeout=20)
        assert [d.status for d in await deliveries(db)] == ["queued"]
        # ... and the next event of the same organisation (the same partition) is handled, not kept waiting.
        second_id = await publish(platform, Topic.RISK_EVENT_RAISED_V2, org.organisation_id, second)
        assert await eventually(lambda: processed(db, second_id), bool, timeout=20)
        assert [d.status for d in await deliveries(db)] == ["queued", "queued"]
        assert mail_server.messages == []

        mail_server.opened.set()
        done = await eventually(lambda: deliveries(db), lambda ds: [d.status for d in ds] == ["delivered"] * 2)
        assert {d.risk_event_id for d in done} == {first.risk_event_id, second.risk_event_id}
        assert all(d.recipient is None and d.attempts == 1 for d in done)  # sent: the address is forgotten
        assert len(mail_server.to(to)) == 2
        sent = await events_on(db, DELIVERED)
        assert sorted(e["notification_id"] for e in sent) == sorted(str(d.id) for d in done)
        assert {e["correlation_id"] for e in sent} == {str(first_id), str(second_id)}  # traced on from each event


def service_env(settings: NotifySettings, platform: PlatformSettings, data_dir: Path) -> dict[str, str]:
    """The environment of a notify process of its own: this test's database, broker and mail server."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CERTWATCH_")},
        "CERTWATCH_DATA_DIR": str(data_dir),  # no stack.env of a local stack
        "CERTWATCH_ENVIRONMENT": "development",
        "CERTWATCH_LOG_JSON": "false",
        "CERTWATCH_KAFKA_BOOTSTRAP_SERVERS": platform.kafka_bootstrap_servers,
        "CERTWATCH_KAFKA_ENABLE_IDEMPOTENCE": "false",
        "CERTWATCH_KAFKA_TOPIC_PREFIX": platform.kafka_topic_prefix,
        "CERTWATCH_NOTIFY_DATABASE_URL": settings.sqlalchemy_url,
        "CERTWATCH_NOTIFY_PORT": str(free_port()),
        "CERTWATCH_NOTIFY_RUN_CONSUMERS": "false",  # the messages are queued by the test
        "CERTWATCH_NOTIFY_SMTP_PORT": str(settings.smtp_port),
        "CERTWATCH_NOTIFY_SEND_LEASE_SECONDS": str(settings.send_lease_seconds),
    }


def start_notify(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    certwatch = Path(sys.executable).parent / "certwatch"
    with log.open("ab") as out:
        return subprocess.Popen([str(certwatch), "serve", "notify"], env=env, stdout=out, stderr=subprocess.STDOUT)


async def test_a_sender_killed_between_send_and_mark_sends_once_more_with_the_same_key_and_counts_one(
    platform, service_settings, mail_server
) -> None:
    """The documented window, forced: a real notify process is kill -9'd after the mail server has kept the
    message and before the sender could mark it (the server holds its 250 until the process is dead)."""
    settings = service_settings("notify", smtp_port=mail_server.port, send_lease_seconds=4)
    with tempfile.TemporaryDirectory(prefix="certwatch-notify-") as folder:
        await kill_between_send_and_mark(settings, platform, mail_server, Path(folder))


async def kill_between_send_and_mark(
    settings: NotifySettings, platform: PlatformSettings, mail_server: MailServer, folder: Path
) -> None:
    to = address()
    org = organisation(to)
    env, log = service_env(settings, platform, folder), folder / "notify.log"
    async with database(settings) as db:
        await queue(db, settings, org, raised_for(org))
        [row] = await deliveries(db)
        mail_server.opened.clear()
        mail_server.store_first = True
        first = start_notify(env, log)
        try:

            async def kept() -> bool:
                return mail_server.arrived.is_set()

            await eventually(kept, bool)  # the server has the message; the sender waits for its answer
            assert len(mail_server.to(to)) == 1
            first.send_signal(signal.SIGKILL)
            assert first.wait(timeout=30) == -signal.SIGKILL
        finally:
            if first.poll() is None:
                first.kill()
        mail_server.opened.set()  # its answer goes to a dead connection

        [unmarked] = await deliveries(db)
        assert unmarked.status == "queued" and await events_on(db, DELIVERED) == []  # never marked

        second = start_notify(env, log)  # the restart: after the lease, the message goes again
        try:
            [done] = await eventually(lambda: deliveries(db), lambda ds: ds[0].status == "delivered", timeout=60)
        finally:
            second.terminate()
            second.wait(timeout=30)
        copies = mail_server.to(to)
        assert len(copies) == 2  # the one duplicate the window allows ...
        assert {m["Message-ID"] for m in copies} == {f"<{row.id}@certification-body.example>"}  # ... with one key
        assert {m["X-Certwatch-Idempotency-Key"] for m in copies} == {str(row.id)}
        assert (done.id, done.attempts) == (row.id, 1)  # the log counts one delivery
        [event] = await events_on(db, DELIVERED)  # and one event is published
        assert event["event_id"] == deterministic_id(DELIVERED, row.id)


async def test_a_mark_that_reached_the_database_counts_even_if_its_sender_dies_then(
    platform, service_settings, mail_server
) -> None:
    """The window ends when the mark leaves the sender: the claim and the mark are single autocommitted
    statements, so a sender kill -9'd while its mark waits (on a row lock the test holds) still marks."""
    settings = service_settings("notify", smtp_port=mail_server.port, send_lease_seconds=4)
    with tempfile.TemporaryDirectory(prefix="certwatch-notify-") as folder:
        to = address()
        org = organisation(to)
        env, log = service_env(settings, platform, Path(folder)), Path(folder) / "notify.log"
        async with database(settings) as db:
            await queue(db, settings, org, raised_for(org))
            [row] = await deliveries(db)
            mail_server.opened.clear()
            first = start_notify(env, log)
            dsn = settings.sqlalchemy_url.replace("+asyncpg", "")
            locker = await asyncpg.connect(dsn, server_settings={"search_path": settings.database_schema})
            try:

                async def held() -> bool:
                    return mail_server.arrived.is_set()

                await eventually(held, bool)  # sent, the server's answer not yet given
                lock = locker.transaction()
                await lock.start()
                await locker.execute("SELECT 1 FROM deliveries WHERE id = $1 FOR UPDATE", row.id)
                mail_server.opened.set()  # the server accepts the message; the mark now waits on the lock
                waiting = (
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND usename = current_user"
                )

                async def mark_waits() -> int:
                    return int(await locker.fetchval(waiting) or 0)

                await eventually(mark_waits, lambda n: n >= 1, timeout=30)
                first.send_signal(signal.SIGKILL)
                assert first.wait(timeout=30) == -signal.SIGKILL
                await lock.rollback()
            finally:
                if first.poll() is None:
                    first.kill()
                await locker.close()
            [done] = await eventually(lambda: deliveries(db), lambda ds: ds[0].status == "delivered", timeout=20)
            assert len(mail_server.to(to)) == 1  # once: nothing is resent
            assert [e["notification_id"] for e in await events_on(db, DELIVERED)] == [str(done.id)]


async def test_replicas_send_each_message_once_over_few_reused_connections(service_settings, mail_server) -> None:
    mail_server.delay = 0.02
    settings = service_settings("notify", smtp_port=mail_server.port, send_concurrency=4, smtp_pool_size=2)
    addresses = [address() for _ in range(30)]
    org = organisation(*addresses)
    async with database(settings) as db:
        await queue(db, settings, org, raised_for(org), raised_for(org))
        replicas = [sender_for(settings), sender_for(settings)]  # each with its own connections
        try:
            counts = await asyncio.gather(*(replica.send_due() for replica in replicas))
        finally:
            for replica in replicas:
                await replica.close()
        assert sum(counts) == 60 and all(counts)  # both replicas took a share
        keys = [m["X-Certwatch-Idempotency-Key"] for _, m in mail_server.messages]
        assert len(keys) == len(set(keys)) == 60  # nothing twice
        assert {d.status for d in await deliveries(db)} == {"delivered"}
        assert len(await events_on(db, DELIVERED)) == 60
        assert mail_server.peak <= 4  # each replica: 2 pooled connections
        assert len({peer for peer, _ in mail_server.messages}) <= 4  # 60 messages over at most 4 connections


async def test_the_backlog_of_queued_messages_is_a_metric_by_channel_due_or_deferred(
    service_settings, mail_server
) -> None:
    settings = service_settings("notify", smtp_port=mail_server.port)
    org = organisation(address(), address())
    async with database(settings) as db:
        await queue(db, settings, org, raised_for(org))  # two emails due now
        async with db.transaction() as session:  # one of them held back, as quiet hours hold a text
            first = (await session.scalars(select(Delivery).order_by(Delivery.id).limit(1))).one()
            first.send_after = datetime.now(UTC) + timedelta(hours=8)
        sender = sender_for(settings)
        try:
            counts = await sender.measure_backlog()
            assert counts == {("email", "due"): 1, ("email", "deferred"): 1}
            assert (
                REGISTRY.get_sample_value("certwatch_notify_deliveries_queued", {"channel": "email", "state": "due"})
                == 1
            )
            assert (
                REGISTRY.get_sample_value("certwatch_notify_deliveries_queued", {"channel": "sms", "state": "due"}) == 0
            )
            assert (REGISTRY.get_sample_value("certwatch_notify_oldest_due_seconds", {"channel": "email"}) or -1) >= 0
            assert await sender.send_due() == 1
            assert await sender.measure_backlog() == {("email", "deferred"): 1}
            assert (
                REGISTRY.get_sample_value("certwatch_notify_deliveries_queued", {"channel": "email", "state": "due"})
                == 0
            )
        finally:
            await sender.close()


async def test_a_transient_failure_is_retried_on_a_new_connection_and_a_refusal_is_not(
    service_settings, mail_server, caplog
) -> None:
    settings = service_settings("notify", smtp_port=mail_server.port, send_backoff_seconds=0.05)
    flaky, refused = address(), address()
    mail_server.flaky[flaky] = 1
    mail_server.refused.add(refused)
    org = organisation(flaky, refused)
    caplog.set_level(logging.INFO)
    async with database(settings) as db:
        await queue(db, settings, org, raised_for(org))
        sender = sender_for(settings)
        try:
            assert await sender.send_due() == 1
        finally:
            await sender.close()
        by_status = {d.status: d for d in await deliveries(db)}
        assert by_status["delivered"].attempts == 2  # 421, then accepted
        [(peer, _)] = [(p, m) for p, m in mail_server.messages if m["To"] == flaky]
        assert mail_server.failed_peers and peer != mail_server.failed_peers[0]  # the failed connection was dropped
        failed = by_status["failed"]
        assert failed.attempts == 1 and "550" in (failed.error or "")  # a 550 is not tried again
        [event] = await events_on(db, Topic.NOTIFICATION_FAILED.value)
        assert event["notification_id"] == str(failed.id) and "550" in event["error"]
        for text in (failed.error or "", event["error"], caplog.text):
            assert flaky not in text and refused not in text  # masked everywhere
