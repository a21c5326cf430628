"""A service keeps answering while it works (issue 12 item 3): during a big registry import (and the
matcher index's refresh after it) rules answers /healthz and a read within a second, and so does ingest
during a big upload. The work runs on worker threads; before, it ran on the event loop and a 20,000-row
import held every request for seconds."""

from __future__ import annotations

import asyncio
import csv
import gc
import io
import time
from collections.abc import Awaitable, Iterator

import httpx
import pytest

from certwatch.demo import bulletins as synthetic
from certwatch.demo.evalset import registry
from services.ingest.main import create_app as ingest_app
from services.rules.main import create_app as rules_app
from tests.support.infra import ADMIN, as_role, running
from tests.support.jobs import follow

pytestmark = pytest.mark.integration

BUDGET = 1.0  # seconds: a liveness probe's timeout is longer, a person waiting notices this much


@pytest.fixture(autouse=True)
def runner_heap_frozen() -> Iterator[None]:
    """The test runner's own heap (pytest, every module imported for every test) out of the cyclic
    collector's sight, as a service's long-lived heap is (LiveIndex): a full collection stops every
    thread, and here it would scan half a million objects that are no part of the service."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


def registry_csv(count: int) -> bytes:
    """`count` organisations with a former name now and then, a certificate and a contact each."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["org_id", "name", "credit_code", "former_names", "address", "contact_email",
                     "certificate_no", "certificate_type", "manufacturer"])  # fmt: skip
    for i, org in enumerate(registry(count)):
        writer.writerow([org.org_id, org.name, org.code, org.former or "", org.record().address,
                         f"q{i}@org.example", f"C{i:08d}", "CCC", org.name])  # fmt: skip
    return out.getvalue().encode()


async def slowest_answers(client: httpx.AsyncClient, paths: list[str], work: Awaitable[object]) -> dict[str, float]:
    """The slowest answer of each path, asked every 0.1 s until `work` is done."""
    task = asyncio.ensure_future(work)
    slowest = dict.fromkeys(paths, 0.0)
    asked = 0
    while not task.done():
        for path in paths:
            started = time.perf_counter()
            response = await client.get(path)
            assert response.status_code == 200, response.text
            slowest[path] = max(slowest[path], time.perf_counter() - started)
            asked += 1
        await asyncio.sleep(0.1)
    await task
    assert asked >= 10, "the work ended before the probes could tell anything"
    return slowest


async def test_rules_answers_while_it_imports_a_big_registry_and_indexes_it(platform, service_settings) -> None:
    data = registry_csv(5000)
    app = rules_app(service_settings("rules"), platform)
    async with running(app, as_role("reviewer")) as rules:

        async def import_and_index() -> None:
            started = await rules.post("/organisations/import", files={"file": ("r.csv", data)}, headers=ADMIN)
            job = await follow(rules, started.json(), headers=ADMIN, timeout=600)
            assert job["status"] == "succeeded" and job["result"]["created"] == 5000, job
            assert len(await app.state.live_index.current()) == 5000  # the refresh after the import

        slowest = await slowest_answers(rules, ["/healthz", "/risk-events?limit=5"], import_and_index())
        assert max(slowest.values()) < BUDGET, slowest


async def test_ingest_answers_while_it_ingests_a_big_upload(platform, service_settings, tmp_path) -> None:
    path = synthetic.write_credit_csv(tmp_path / "list.csv", synthetic.credit_rows(30_000))
    async with running(ingest_app(service_settings("ingest"), platform), as_role("feed")) as ingest:

        async def upload() -> None:
            started = await ingest.post(
                "/files", params={"kind": "serious_illegal"}, files={"file": ("list.csv", path.read_bytes())}
            )
            assert started.status_code == 202, started.text
            job = await follow(ingest, started.json(), timeout=600)
            assert job["status"] == "succeeded" and job["result"]["accepted"] == 30_000, job

        slowest = await slowest_answers(ingest, ["/healthz", "/feed-runs?limit=5"], upload())
        assert max(slowest.values()) < BUDGET, slowest
