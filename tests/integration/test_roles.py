"""A service split into an api process and a worker process (issue 13 item 5; shared/runtime.py): the api
serves the routes and never consumes, the worker consumes and serves only health, readiness and metrics, and
what the api writes reaches the worker's matcher index at once (PostgreSQL NOTIFY), not at its next periodic
refresh. The api's own index is built only when a request needs it."""

from __future__ import annotations

from typing import Any

import pytest

from services.rules.main import create_app
from tests.integration.test_rules_matching import registry_xlsx, send_signal
from tests.support.infra import ADMIN, running
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def test_rules_api_and_worker_split_the_work_and_an_import_reaches_the_worker_at_once(
    platform: Any, service_settings: Any
) -> None:
    api = create_app(service_settings("rules", role="api"), platform)
    settings = service_settings("rules", role="worker")
    worker = create_app(settings.model_copy(update={"consumer_group": api.state.runtime.settings.consumer_group}),
                        platform)  # fmt: skip
    worker.state.live_index.every = 3600.0  # no periodic refresh during the test: only the api's notice wakes it
    async with running(api, ADMIN) as front, running(worker, ADMIN) as back:
        ready = await back.get("/readyz")
        assert ready.status_code == 200 and "consumer" in ready.json()["checks"], ready.text
        assert "consumer" not in (await front.get("/readyz")).json()["checks"]  # the api has none to wait for
        assert (await back.get("/risk-events")).status_code == 404  # the worker serves no routes
        assert (await front.get("/risk-events")).status_code == 200

        async def assigned() -> int:
            kafka = worker.state.runtime.consumer._kafka
            return len(kafka.assignment()) if kafka is not None else 0

        await eventually(assigned, lambda n: n > 0)  # the worker's consumer joined; the api has none
        assert api.state.runtime.consumer._kafka is None

        report = await front.post("/organisations/import?wait=true", files={"file": ("r.xlsx", registry_xlsx())})
        assert report.status_code == 200 and report.json()["created"] == 2, report.text
        assert len(api.state.live_index.index) == 0  # the api matched nothing yet: no index built

        signal_id = await send_signal(platform, "浙江宏远电器有限公司", "电动自行车用充电器")

        async def raised() -> list[dict[str, Any]]:
            return (await front.get("/risk-events", params={"limit": 50})).json()

        events = await eventually(raised, lambda e: len(e) == 1)
        assert events[0]["signal_id"] == str(signal_id)  # matched by the worker against the imported registry

        screened = await front.post("/screening/match", json={"name": "浙江宏远电器有限公司"})
        assert screened.status_code == 200 and screened.json(), screened.text  # the api's index, built on demand
        assert len(api.state.live_index.index) == 2
