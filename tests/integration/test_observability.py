"""Every service answers /healthz, /readyz and /metrics, and echoes the correlation id."""

from __future__ import annotations

import pytest

from certwatch.services import SERVICES, app_factory
from tests.support.infra import running

pytestmark = pytest.mark.integration


def _factory(service: str):
    module, _, name = app_factory(service).partition(":")
    return getattr(__import__(module, fromlist=[name]), name)


@pytest.mark.parametrize("service", SERVICES)
async def test_health_readiness_and_metrics(service: str, platform, service_settings) -> None:
    app = _factory(service)(service_settings(service), platform)
    async with running(app) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok", "service": service}
        ready = await client.get("/readyz", headers={"X-Correlation-ID": "trace-42"})
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "consumer": "ok", "outbox relay": "ok"}
        assert ready.headers["X-Correlation-ID"] == "trace-42"
        metrics = (await client.get("/metrics")).text
        assert "certwatch_http_requests_total" in metrics and "certwatch_outbox_pending" in metrics


async def test_readiness_fails_with_the_reason_when_the_database_is_unreachable(platform, service_settings) -> None:
    settings = service_settings("reporting", database_url="postgresql+asyncpg://nobody:x@127.0.0.1:1/none")
    app = _factory("reporting")(settings, platform)
    async with running(app) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"].startswith("failed:")
        assert ready.json()["checks"]["broker"] == "ok"
