"""Long jobs (issue 12 item 3): a registry import and a large upload answer 202 with a job, followed on
GET /jobs/{id} to its result; `wait=true` answers as before; a job whose process stopped is interrupted."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from certwatch.demo import bulletins as synthetic
from services.ingest.main import create_app as ingest_app
from services.ingest.models import jobs as ingest_jobs
from services.rules.main import create_app as rules_app
from shared.db.session import Database
from shared.jobs import Progress
from tests.support.infra import ADMIN, as_role, running
from tests.support.jobs import follow

pytestmark = pytest.mark.integration

REGISTRY = (
    "org_id,name,credit_code,address,certificate_no,certificate_type\n"
    "ORG-1,浙江宏远电器有限公司,,浙江省宁波市鄞州区,2022010703004512,CCC\n"
    "ORG-2,广东澄川电器制造有限公司,,广东省佛山市顺德区,Q-1,QMS\n"
    "ORG-3,,,,,\n"
).encode()


async def test_a_registry_import_is_a_job_followed_to_its_report(platform, service_settings) -> None:
    async with running(rules_app(service_settings("rules"), platform), ADMIN) as rules:
        started = await rules.post("/organisations/import", files={"file": ("registry.csv", REGISTRY)})
        assert started.status_code == 202, started.text
        assert started.headers["location"] == f"/jobs/{started.json()['id']}"
        assert started.json()["status"] in ("queued", "running") and started.json()["created_by"] == "admin"

        job = await follow(rules, started.json())
        assert job["status"] == "succeeded" and job["kind"] == "registry_import" and job["error"] is None
        assert (job["result"]["created"], job["result"]["rejected_rows"]) == (2, 1)
        assert {(p["row"], p["field"]) for p in job["result"]["problems"]} == {(4, "name")}
        assert (job["phase"], job["done"], job["total"]) == ("writing organisations", 2, 2)
        assert job["detail"] == {"file": "registry.csv", "bytes": len(REGISTRY)}
        assert [j["id"] for j in (await rules.get("/jobs")).json()] == [job["id"]]
        assert len((await rules.get("/organisations")).json()) == 2
        reviewer = await rules.get(f"/jobs/{job['id']}", headers=as_role("reviewer"))
        assert reviewer.status_code == 403  # imports are the administrators'


async def test_a_file_that_is_no_registry_fails_its_job_and_is_a_422_when_waited_for(
    platform, service_settings
) -> None:
    bad = b"id,title\n1,x\n"
    async with running(rules_app(service_settings("rules"), platform), ADMIN) as rules:
        started = await rules.post("/organisations/import", files={"file": ("list.csv", bad)})
        job = await follow(rules, started.json())
        assert job["status"] == "failed" and "no column org_id" in job["error"]

        waited = await rules.post("/organisations/import", params={"wait": "true"}, files={"file": ("list.csv", bad)})
        assert waited.status_code == 422 and "no column org_id" in waited.json()["message"]
        assert [j["status"] for j in (await rules.get("/jobs")).json()] == ["failed", "failed"]


async def test_a_large_upload_is_a_job_and_a_small_one_is_answered_once_ingested(
    platform, service_settings, tmp_path
) -> None:
    small = synthetic.write_credit_csv(tmp_path / "small.csv", synthetic.credit_rows(3))
    large = synthetic.write_credit_csv(tmp_path / "large.csv", synthetic.credit_rows(3000, start=100))
    settings = service_settings("ingest", upload_wait_bytes=small.stat().st_size)
    async with running(ingest_app(settings, platform), as_role("feed")) as ingest:
        params = {"kind": "serious_illegal"}
        answered = await ingest.post("/files", params=params, files={"file": ("small.csv", small.read_bytes())})
        assert answered.status_code == 200 and answered.json()["read"] == 3

        started = await ingest.post("/files", params=params, files={"file": ("large.csv", large.read_bytes())})
        assert started.status_code == 202, started.text
        job = await follow(ingest, started.json())
        assert job["status"] == "succeeded" and job["kind"] == "file_upload"
        assert (job["result"]["read"], job["result"]["accepted"]) == (3000, 3000)
        assert job["phase"] == "releasing signals" and job["done"] == 3000
        runs = (await ingest.get("/feed-runs")).json()
        assert runs[0]["run_id"] == job["result"]["run_id"] and runs[0]["status"] == "succeeded"

        # Either way on request: a small file as a job, a large one waited for.
        as_job = await ingest.post(
            "/files", params={**params, "wait": "false"}, files={"file": ("small.csv", small.read_bytes())}
        )
        assert as_job.status_code == 202
        waited = await ingest.post(
            "/files",
            params={**params, "wait": "true", "dry_run": "true"},
            files={"file": ("l.csv", large.read_bytes())},
        )
        assert waited.status_code == 200 and waited.json()["read"] == 3000 and waited.json()["dry_run"]


async def test_an_upload_unreadable_as_a_whole_is_refused_at_once_and_one_failing_later_fails_its_job(
    platform, service_settings, tmp_path
) -> None:
    bomb = synthetic.write_zip_bomb(tmp_path / "bomb.xlsx", inflated=300 * 1024 * 1024)
    header_only = "标称生产企业名称,产品名称\n".encode()
    settings = service_settings("ingest", upload_wait_bytes=0)  # every upload a job
    async with running(ingest_app(settings, platform), as_role("feed")) as ingest:
        params = {"kind": "spot_check"}
        refused = await ingest.post("/files", params=params, files={"file": ("b.xlsx", bomb.read_bytes())})
        assert refused.status_code == 422 and "zip bomb" in refused.json()["message"]
        assert refused.json()["detail"]["run_id"]
        assert (await ingest.get("/jobs")).json() == []  # refused before any job

        started = await ingest.post("/files", params=params, files={"file": ("h.csv", header_only)})
        job = await follow(ingest, started.json())
        assert job["status"] == "failed" and "no data rows" in job["error"]
        assert job["result"]["status"] == "failed" and job["result"]["run_id"]


async def test_a_job_whose_process_stopped_is_interrupted(platform, service_settings) -> None:
    """Killed (no heartbeat for a minute): shown interrupted, and so marked when a process starts. Stopped
    while it runs: marked interrupted as the process stops."""
    settings = service_settings("ingest")
    db = Database(settings)
    dead = uuid.uuid4()
    try:
        async with db.transaction() as session:
            old = datetime.now(UTC) - timedelta(minutes=10)
            await session.execute(
                insert(ingest_jobs).values(
                    id=dead, kind="file_upload", status="running", created_at=old, updated_at=old
                )
            )
        app = ingest_app(settings, platform)
        async with running(app, as_role("feed")) as ingest:
            shown = (await ingest.get(f"/jobs/{dead}")).json()
            assert shown["status"] == "interrupted" and "stopped" in shown["error"]

            async def forever(progress: Progress) -> dict[str, Any]:
                progress.begin("waiting")
                await asyncio.Event().wait()
                return {}

            running_job = await app.state.jobs.submit("test", forever)
            assert (await follow_until(ingest, running_job, "running"))["phase"] == "waiting"
        async with db.sessions() as session:
            rows = dict((await session.execute(select(ingest_jobs.c.id, ingest_jobs.c.status))).all())
        assert rows == {dead: "interrupted", running_job: "interrupted"}
    finally:
        await db.dispose()


async def follow_until(client: httpx.AsyncClient, job_id: uuid.UUID, status: str) -> dict[str, Any]:
    for _ in range(300):
        job = (await client.get(f"/jobs/{job_id}")).json()
        if job["status"] == status and job["phase"] != "starting":
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} never {status}: {job}")
