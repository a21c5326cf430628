"""`certwatch kafka republish`: after the local broker restarted empty, the outboxes send everything
again and the consumers' inboxes make it harmless: what was handled is not handled twice (no second risk
event, email, text or count), what the broker lost on the way is handled once."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from certwatch.mailsink import read_mail
from certwatch.republish import parse_since, republish
from certwatch.smssink import read_sms
from certwatch.stack.broker import BrokerHandle, start_broker
from services.ingest.main import create_app as ingest_app
from services.notify.main import create_app as notify_app
from services.reporting.main import create_app as reporting_app
from services.rules.main import create_app as rules_app
from shared.kafka.admin import ensure_topics
from shared.settings import PlatformSettings
from tests.e2e.test_one_signal_flow import CODE, registry_csv
from tests.support.infra import ADMIN, as_role, running
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

BEFORE, DURING = 12, 4  # signals handled before the broker restarts, and sent while it is down


@dataclass
class Broker:
    """A broker of this test's own, to restart: the session's is shared."""

    folder: Path
    handle: BrokerHandle

    def stop(self) -> None:
        self.handle.stop()

    def start(self) -> None:
        self.handle = start_broker(self.folder, port=self.handle.port)


@pytest.fixture
def own_broker(infra_dir: Path) -> Iterator[Broker]:
    folder = infra_dir / f"broker-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    broker = Broker(folder, start_broker(folder))
    try:
        yield broker
    finally:
        broker.handle.stop()


@pytest.fixture
async def own_platform(own_broker: Broker) -> AsyncIterator[PlatformSettings]:
    platform = PlatformSettings(
        kafka_bootstrap_servers=own_broker.handle.bootstrap, kafka_enable_idempotence=False,
        kafka_topic_prefix=f"t{uuid.uuid4().hex[:10]}.", environment="test", log_json=False,
    )  # fmt: skip
    await ensure_topics(platform, partitions=2)
    yield platform


@dataclass
class Effects:
    """Every effect of the signals, counted where it lands."""

    risk_events: int
    distinct_signals: int
    deliveries: int
    emails: int
    texts: int
    counted: int

    def of(self, n: int) -> bool:
        return self == Effects(n, n, 2 * n, n, n, n)


async def _scalar(app: FastAPI, sql: str) -> int:
    async with app.state.runtime.db.sessions() as session:
        return int(await session.scalar(text(sql)) or 0)


def _signal(i: int) -> dict[str, Any]:
    return {
        "feed": "samr-national", "kind": "spot_check_failure",
        "subject": {"name": "浙江宏远电器有限公司", "credit_code": CODE},
        "product": {"name": "电动自行车用充电器", "model": "HY-4820A"},
        "detail": {"bulletin_no": f"市场监管总局2024年第{i}号", "failed_items": [{"item": f"输出电压 {i}"}]},
    }  # fmt: skip


async def test_republishing_after_a_broker_restart_handles_the_lost_once_and_the_rest_not_again(
    own_platform, own_broker, service_settings, mail_sink, sms_sink
) -> None:
    email = f"quality+{uuid.uuid4().hex[:8]}@hongyuan.example"
    mobile = f"139{random.randrange(10**8):08d}"
    sms = f"http://127.0.0.1:{sms_sink.port}/sms"
    platform = own_platform
    async with AsyncExitStack() as apps:
        ingest = ingest_app(service_settings("ingest"), platform)
        rules = rules_app(service_settings("rules"), platform)
        notify = notify_app(service_settings("notify", smtp_port=mail_sink.port, sms_gateway_url=sms), platform)
        reporting = reporting_app(service_settings("reporting"), platform)
        feed = await apps.enter_async_context(running(ingest, as_role("feed")))
        admin = await apps.enter_async_context(running(rules, ADMIN))
        for app in (notify, reporting):
            await apps.enter_async_context(running(app))

        async def effects() -> Effects:
            return Effects(
                risk_events=await _scalar(rules, "SELECT count(*) FROM risk_events"),
                distinct_signals=await _scalar(rules, "SELECT count(DISTINCT signal_id) FROM risk_events"),
                deliveries=await _scalar(notify, "SELECT count(*) FROM deliveries WHERE status = 'delivered'"),
                emails=sum(1 for m in read_mail(mail_sink.maildir) if m["To"] == email),
                texts=sum(1 for m in read_sms(sms_sink.maildir) if m["to"] == mobile),
                counted=await _scalar(reporting, "SELECT coalesce(sum(value), 0) FROM tallies "
                                                 "WHERE metric = 'risk_events' AND dimension = 'all'"),
            )  # fmt: skip

        since = datetime.now(UTC) - timedelta(seconds=1)
        csv = registry_csv(email).replace(b"13800138000", mobile.encode())
        imported = await admin.post("/organisations/import?wait=true", files={"file": ("r.csv", csv)})
        assert imported.status_code == 200, imported.text
        for i in range(BEFORE):
            assert (await feed.post("/signals", json=_signal(i))).status_code == 201
        await eventually(effects, lambda e: e.of(BEFORE))

        # The broker restarts empty; signals come in while it is down (ingest stores them and waits).
        own_broker.stop()
        for i in range(BEFORE, BEFORE + DURING):
            assert (await feed.post("/signals", json=_signal(i))).status_code == 201
        await asyncio.sleep(2.0)
        own_broker.start()
        started = time.monotonic()
        done = await republish(platform, _settings(ingest, rules, notify, reporting), since, partitions=2)
        sent = {r.service: r.events for r in done}
        assert sent["ingest"] >= BEFORE + DURING and sent["rules"] >= BEFORE + DURING

        settled = await eventually(effects, lambda e: e.of(BEFORE + DURING))
        recovered = time.monotonic() - started
        await asyncio.sleep(3.0)  # time for a second handling of anything to show
        assert await effects() == settled

        # Republishing again, everything now handled: nothing changes anywhere.
        await republish(platform, _settings(ingest, rules, notify, reporting), since, partitions=2)
        await asyncio.sleep(5.0)
        assert await effects() == settled
        for app in (ingest, rules, notify, reporting):
            assert (await _client_ready(app)) == 200
    print(f"\nrepublished {sent} after a broker restart: {DURING} lost on the way handled once, "
          f"0 duplicated effects ({settled}); settled {recovered:.1f} s after the broker started")  # fmt: skip


def _settings(*apps: FastAPI) -> dict[str, Any]:
    return {app.state.runtime.service: app.state.runtime.settings for app in apps}


async def _client_ready(app: FastAPI) -> int:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return (await client.get("/readyz")).status_code


def test_since_takes_a_time_or_a_duration_back() -> None:
    now = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    assert parse_since("2h", now) == now - timedelta(hours=2)
    assert parse_since("90s", now) == now - timedelta(seconds=90)
    assert parse_since("1.5d", now) == now - timedelta(days=1.5)
    assert parse_since("2026-12-03T08:00+00:00") == datetime(2026, 12, 3, 8, tzinfo=UTC)
    assert parse_since("2026-12-03T08:00").tzinfo is not None  # local time
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_since("yesterday")
