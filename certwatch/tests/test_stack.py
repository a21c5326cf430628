"""The local stack's building blocks on real processes: PostgreSQL roles and schemas, the broker, the sinks."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from certwatch.mailsink import read_mail
from certwatch.services import SERVICES
from certwatch.smssink import read_sms
from certwatch.stack.broker import BrokerHandle, start_broker
from certwatch.stack.environment import admin_token, feed_token, mask_password, role_passwords, stack_env
from certwatch.stack.lifecycle import down
from certwatch.stack.postgres import PgHandle, cluster_dir, provision_database, start_postgres
from certwatch.stack.sinks import SinkHandle, start_mail_sink, start_sms_sink


@pytest.fixture(scope="module")
def stack_dir() -> Iterator[Path]:
    """A data folder of this module's own; PostgreSQL's unprivileged user must be able to enter it."""
    folder = Path(tempfile.mkdtemp(prefix="certwatch-stack-test-"))
    folder.chmod(0o755)
    cluster = cluster_dir(folder)
    try:
        yield folder
    finally:
        shutil.rmtree(cluster, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def pg(stack_dir: Path) -> Iterator[PgHandle]:
    handle = start_postgres(stack_dir)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def kafka(stack_dir: Path) -> Iterator[BrokerHandle]:
    handle = start_broker(stack_dir)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def smtp_sink(stack_dir: Path) -> Iterator[SinkHandle]:
    handle = start_mail_sink(stack_dir)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def sms_sink(stack_dir: Path) -> Iterator[SinkHandle]:
    handle = start_sms_sink(stack_dir)
    try:
        yield handle
    finally:
        handle.stop()


def new_roles() -> dict[str, str]:
    return {f"certwatch_{s}": secrets.token_urlsafe(12) for s in SERVICES}


@asynccontextmanager
async def connect_as(pg: PgHandle, database: str, role: str, password: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(f"postgresql://{role}:{password}@127.0.0.1:{pg.port}/{database}")
    try:
        yield conn
    finally:
        await conn.close()


async def provisioned(pg: PgHandle, roles: dict[str, str]) -> str:
    """A database of the test's own, provisioned for the four service roles."""
    database = f"stack_{uuid.uuid4().hex[:10]}"
    await provision_database(pg.admin_dsn, database, roles)
    return database


@pytest.mark.integration
async def test_a_service_role_works_in_its_own_schema_and_cannot_touch_another(pg: PgHandle) -> None:
    roles = new_roles()
    database = await provisioned(pg, roles)
    async with connect_as(pg, database, "certwatch_ingest", roles["certwatch_ingest"]) as ingest:
        await ingest.execute("CREATE TABLE signal (id int); INSERT INTO signal VALUES (1)")

    async with connect_as(pg, database, "certwatch_rules", roles["certwatch_rules"]) as rules:
        assert await rules.fetchval("SHOW search_path") == "rules"
        await rules.execute("CREATE TABLE organisation (id int)")
        owner = await rules.fetchval(
            "SELECT tableowner FROM pg_tables WHERE schemaname = 'rules' AND tablename = 'organisation'"
        )
        assert owner == "certwatch_rules"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await rules.fetch("SELECT * FROM ingest.signal")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await rules.execute("CREATE TABLE ingest.planted (id int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await rules.execute("CREATE TABLE public.planted (id int)")


@pytest.mark.integration
async def test_provisioning_again_changes_only_the_passwords(pg: PgHandle) -> None:
    old = new_roles()
    database = await provisioned(pg, old)
    async with connect_as(pg, database, "certwatch_rules", old["certwatch_rules"]) as rules:
        await rules.execute("CREATE TABLE kept (id int)")

    new = new_roles()
    await provision_database(pg.admin_dsn, database, new)

    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(f"postgresql://certwatch_rules:{old['certwatch_rules']}@127.0.0.1:{pg.port}/{database}")
    async with connect_as(pg, database, "certwatch_rules", new["certwatch_rules"]) as rules:
        assert await rules.fetchval("SELECT count(*) FROM kept") == 0  # the schema and its tables survive
        assert not await rules.fetchval(
            "SELECT rolsuper OR rolcreatedb OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
        )


@pytest.mark.integration
async def test_the_broker_delivers_a_produced_message_to_a_consumer(kafka: BrokerHandle) -> None:
    topic = f"stack-test-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello", key=b"k")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka.bootstrap, group_id=f"g-{topic}", auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert (message.key, message.value) == (b"k", b"hello")


@pytest.mark.integration
async def test_the_mail_sink_keeps_each_message_as_an_eml_file(smtp_sink: SinkHandle) -> None:
    subject = f"risk event {uuid.uuid4().hex[:6]}"
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "certwatch@example.org", "审核员@example.org", subject
    message.set_content("某某公司 列入严重违法失信名单")

    await aiosmtplib.send(message, hostname="127.0.0.1", port=smtp_sink.port)

    [received] = [m for m in read_mail(smtp_sink.maildir) if m["Subject"] == subject]
    assert received["To"] == "审核员@example.org"
    assert received.get_content().strip() == "某某公司 列入严重违法失信名单"


@pytest.mark.integration
async def test_the_sms_sink_keeps_each_message_and_answers_its_id(sms_sink: SinkHandle) -> None:
    url = f"http://127.0.0.1:{sms_sink.port}/sms"
    async with httpx.AsyncClient() as client:
        sent = await client.post(url, json={"to": "+8613800000000", "text": "风险事件"})
        bad = await client.post(url, json={"to": "+8613800000000"})

    assert sent.status_code == 200 and bad.status_code == 400
    message_id = sent.json()["message_id"]
    [stored] = [m for m in read_sms(sms_sink.maildir) if m["message_id"] == message_id]
    assert (stored["to"], stored["text"]) == ("+8613800000000", "风险事件")


def test_down_where_nothing_ever_ran_stops_nothing_twice(tmp_path: Path) -> None:
    assert down(tmp_path) == []
    assert down(tmp_path) == []


def test_stack_env_holds_every_endpoint_and_role(tmp_path: Path) -> None:
    ports = {s: 8000 + i for i, s in enumerate(SERVICES)}
    env = stack_env(tmp_path, 5432, "postgresql://certwatch_admin:pw@127.0.0.1:5432/postgres", 9092, 25, 80, ports)

    per_service = {f"CERTWATCH_{s.upper()}_{k}" for s in SERVICES for k in ("DATABASE_URL", "PORT")}
    platform = {"ENVIRONMENT", "DATA_DIR", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_ENABLE_IDEMPOTENCE", "ADMIN_DATABASE_URL"}
    endpoints = {
        "NOTIFY_SMTP_HOST",
        "NOTIFY_SMTP_PORT",
        "NOTIFY_SMS_GATEWAY_URL",
        "INGEST_FEEDS_FILE",
        "AUTH_ADMIN_TOKEN",
        "AUTH_TOKENS",
    }
    assert set(env) == per_service | {f"CERTWATCH_{k}" for k in platform | endpoints}
    assert env["CERTWATCH_ADMIN_DATABASE_URL"] == "postgresql://certwatch_admin:pw@127.0.0.1:5432/certwatch"
    assert env["CERTWATCH_KAFKA_ENABLE_IDEMPOTENCE"] == "false"
    assert env["CERTWATCH_NOTIFY_SMS_GATEWAY_URL"] == "http://127.0.0.1:80/sms"
    for service in SERVICES:
        url = env[f"CERTWATCH_{service.upper()}_DATABASE_URL"]
        assert url.startswith(f"postgresql+asyncpg://certwatch_{service}:") and url.endswith(
            "@127.0.0.1:5432/certwatch"
        )
    assert stack_env(tmp_path, 5432, "postgresql://a:b@h:1/postgres", 1, 2, 3, ports) != env  # other ports
    assert role_passwords(tmp_path) == role_passwords(tmp_path)  # generated once, then reused
    token = env["CERTWATCH_AUTH_ADMIN_TOKEN"]
    assert len(token) >= 40 and admin_token(tmp_path) == token  # random, generated once
    assert (tmp_path / "admin-token.secret").stat().st_mode & 0o777 == 0o600
    feed = feed_token(tmp_path)  # the nightly job's; the services get only its SHA-256
    assert env["CERTWATCH_AUTH_TOKENS"] == f"stack-feed:feed:{hashlib.sha256(feed.encode()).hexdigest()}"
    assert feed not in "".join(env.values()) and (tmp_path / "feed-token.secret").stat().st_mode & 0o777 == 0o600


def test_passwords_are_masked() -> None:
    assert mask_password("postgresql+asyncpg://certwatch_rules:s3-cr_et@127.0.0.1:5432/certwatch") == (
        "postgresql+asyncpg://certwatch_rules:***@127.0.0.1:5432/certwatch"
    )
    assert mask_password("http://127.0.0.1:8000/sms") == "http://127.0.0.1:8000/sms"
