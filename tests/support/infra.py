"""Real infrastructure for integration tests, started once per test session.

PostgreSQL, the Tansu broker and the SMTP sink are started with the same code as `certwatch up`.
Isolation: every test gets its own database (a copy of a migrated template) and its own topic
prefix, so tests never share state and can run in any order.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from certwatch.services import SERVICES, folder_of
from certwatch.stack.broker import start_broker
from certwatch.stack.postgres import provision_database, start_postgres
from certwatch.stack.sinks import start_mail_sink, start_sms_sink
from shared.auth import Role, hashed_entry
from shared.db.migrations import upgrade
from shared.kafka.admin import ensure_topics
from shared.settings import PlatformSettings, ServiceSettings

TEMPLATE = "certwatch_template"


@dataclass(frozen=True)
class Postgres:
    port: int
    admin_dsn: str
    passwords: dict[str, str]

    def dsn(self, database: str, service: str) -> str:
        return f"postgresql+asyncpg://certwatch_{service}:{self.passwords[service]}@127.0.0.1:{self.port}/{database}"

    def admin(self, database: str = "postgres") -> str:
        return self.admin_dsn.rsplit("/", 1)[0] + f"/{database}"


ADMIN_TOKEN = f"test-admin-{uuid.uuid4().hex}"  # every service's settings token (administrator)
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NO_TOKEN = {"Authorization": ""}  # overrides a client's default token: the request goes without one
# One settings token per role (CERTWATCH_AUTH_TOKENS, hashed), known to every service without rules running.
ROLE_TOKENS = {role: f"test-{role.value}-{uuid.uuid4().hex}" for role in Role}
HASHED_TOKENS = ",".join(hashed_entry(f"test-{role.value}", role, token) for role, token in ROLE_TOKENS.items())


def as_role(role: Role | str) -> dict[str, str]:
    """Headers of the settings token of `role` (its actor is named `test-<role>`)."""
    return {"Authorization": f"Bearer {ROLE_TOKENS[Role(role)]}"}


async def bearer(rules: httpx.AsyncClient, name: str, role: str) -> dict[str, str]:
    """Headers carrying a new token for `name` in `role`, made through the token API."""
    made = await rules.post("/tokens", json={"name": name, "role": role}, headers=ADMIN)
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['token']}"}


@pytest.fixture(scope="session")
def infra_dir() -> Iterator[Path]:
    """A folder PostgreSQL's unprivileged user can reach (pytest's own tmp folders are root-only)."""
    folder = Path(tempfile.mkdtemp(prefix="certwatch-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
async def postgres(infra_dir: Path) -> AsyncIterator[Postgres]:
    handle = start_postgres(infra_dir)
    try:
        passwords = {s: secrets.token_urlsafe(16) for s in SERVICES}
        pg = Postgres(handle.port, handle.admin_dsn, passwords)
        await provision_database(pg.admin(), TEMPLATE, {f"certwatch_{s}": p for s, p in passwords.items()})
        for service in SERVICES:
            # Alembic runs its own event loop, so it gets a thread of its own.
            await asyncio.to_thread(upgrade, folder_of(service), pg.dsn(TEMPLATE, service))
        yield pg
    finally:
        handle.stop()


@pytest.fixture
async def database(postgres: Postgres) -> AsyncIterator[str]:
    """A fresh database, migrated, for this test only."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(postgres.admin().replace("+asyncpg", ""))
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        yield name
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def broker(infra_dir: Path) -> Iterator[str]:
    handle = start_broker(infra_dir)
    try:
        yield handle.bootstrap
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def mail_sink(infra_dir: Path) -> Iterator[Any]:
    handle = start_mail_sink(infra_dir)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def sms_sink(infra_dir: Path) -> Iterator[Any]:
    handle = start_sms_sink(infra_dir)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
async def platform(broker: str) -> PlatformSettings:
    """Broker settings with a topic prefix of this test's own."""
    settings = PlatformSettings(
        kafka_bootstrap_servers=broker,
        kafka_enable_idempotence=False,
        kafka_topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
        environment="test",
        log_json=False,
    )
    await ensure_topics(settings, partitions=2)
    return settings


ServiceFactory = Callable[..., Any]


@pytest.fixture
def service_settings(postgres: Postgres, database: str) -> Callable[..., ServiceSettings]:
    """Settings for one service pointed at this test's database, fast retries, own consumer group."""
    from certwatch.services import settings_class

    def make(service: str, **overrides: Any) -> ServiceSettings:
        values: dict[str, Any] = {
            "database_url": postgres.dsn(database, service),
            "consumer_group": f"{service}-{uuid.uuid4().hex[:8]}",
            "consumer_backoff_seconds": 0.01,
            "outbox_poll_seconds": 0.05,
            "admin_token": ADMIN_TOKEN,
            "api_tokens": HASHED_TOKENS,
            **overrides,
        }
        return settings_class(service)(**values)

    return make


@asynccontextmanager
async def running(app: FastAPI, headers: dict[str, str] | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan (consumers, relay) and talk to it in-process over ASGI; `headers` go with every
    request (e.g. `ADMIN`, or `as_role("feed")`), unless a request sends its own."""
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as client:
            yield client
