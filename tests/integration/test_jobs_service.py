"""Long jobs (shared/jobs.py) driven directly on real PostgreSQL, without a service around them: each outcome
recorded (succeeded with its result, failed with its reason, a refused input with its report), at most
`concurrency` at a time with the rest queued, progress written by the heartbeat, and a job whose process
stopped shown and marked interrupted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import insert

from services.rules.db import jobs as JOBS
from shared.db.session import Database
from shared.errors import NotFound
from shared.jobs import FAILED, INTERRUPTED, QUEUED, RUNNING, SUCCEEDED, JobFailed, Jobs, Progress
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(service_settings: Any) -> AsyncIterator[Database]:
    database = Database(service_settings("rules"))
    yield database
    await database.dispose()


async def test_a_job_run_now_records_its_result_and_progress(db: Database) -> None:
    jobs = Jobs(db, JOBS)

    async def work(progress: Progress) -> dict[str, Any]:
        progress.begin("reading", total=3)
        progress.advance(3)
        return {"rows": 3}

    job_id, result = await jobs.run_now("registry_import", work, {"file": "r.csv"}, created_by="admin")
    job = await jobs.get(job_id)
    assert result == job.result == {"rows": 3}
    assert (job.status, job.phase, job.done, job.total, job.error) == (SUCCEEDED, "reading", 3, 3, None)
    assert (job.kind, job.detail, job.created_by) == ("registry_import", {"file": "r.csv"}, "admin")
    assert job.started_at is not None and job.finished_at is not None and job.finished_at >= job.started_at


async def test_a_refused_input_fails_the_job_with_its_reason_and_report_and_reaches_the_caller(db: Database) -> None:
    jobs = Jobs(db, JOBS)

    async def work(progress: Progress) -> dict[str, Any]:
        raise JobFailed("the registry file has no column org_id", result={"rows": 0}, detail={"missing": ["org_id"]})

    with pytest.raises(JobFailed, match="no column org_id") as refused:
        await jobs.run_now("registry_import", work)
    assert refused.value.status_code == 422 and refused.value.detail == {"missing": ["org_id"]}
    [job] = await jobs.recent("registry_import", 5)
    assert (job.status, job.error, job.result) == (FAILED, "the registry file has no column org_id", {"rows": 0})


async def test_a_job_that_breaks_fails_naming_the_error_and_the_background_goes_on(db: Database) -> None:
    jobs = Jobs(db, JOBS)

    async def work(progress: Progress) -> dict[str, Any]:
        raise KeyError("certificate_no")

    job_id = await jobs.submit("file_upload", work)
    job = await eventually(lambda: jobs.get(job_id), lambda j: j.status == FAILED, 30)
    assert job.error == "KeyError: 'certificate_no'" and job.result is None


async def test_jobs_beyond_the_concurrency_wait_queued_and_progress_is_written_while_running(db: Database) -> None:
    jobs = Jobs(db, JOBS, concurrency=1, heartbeat=0.05)
    release = asyncio.Event()

    async def slow(progress: Progress) -> dict[str, Any]:
        progress.begin("writing", total=10)
        progress.advance(4)
        await release.wait()
        return {"ok": True}

    first = await jobs.submit("registry_import", slow)
    second = await jobs.submit("registry_import", slow)
    running = await eventually(lambda: jobs.get(first), lambda j: j.done == 4, 30)
    assert (running.status, running.phase, running.total) == (RUNNING, "writing", 10)
    assert (await jobs.get(second)).status == QUEUED
    release.set()
    for job_id in (first, second):
        done = await eventually(partial(jobs.get, job_id), lambda j: j.status == SUCCEEDED, 30)
        assert done.result == {"ok": True}


async def test_stopping_the_service_interrupts_its_running_jobs(db: Database) -> None:
    jobs = Jobs(db, JOBS, heartbeat=0.05)
    stop = asyncio.Event()
    loop = asyncio.create_task(jobs.run(stop))

    async def forever(progress: Progress) -> dict[str, Any]:
        await asyncio.Event().wait()
        return {}

    job_id = await jobs.submit("registry_import", forever)
    await eventually(lambda: jobs.get(job_id), lambda j: j.status == RUNNING, 30)
    stop.set()
    await asyncio.wait_for(loop, 10)
    job = await jobs.get(job_id)
    assert job.status == INTERRUPTED and "submit it again" in (job.error or "")


async def test_a_job_left_by_a_dead_process_is_shown_and_then_marked_interrupted(db: Database) -> None:
    orphan = uuid.uuid4()
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    async with db.transaction() as session:
        await session.execute(
            insert(JOBS).values(
                id=orphan, kind="registry_import", status=RUNNING, created_at=long_ago, updated_at=long_ago
            )
        )
    jobs = Jobs(db, JOBS, stale_after=60)
    shown = await jobs.get(orphan)
    assert shown.status == INTERRUPTED and "no sign of life" in (shown.error or "")
    assert Jobs(db, JOBS, stale_after=3600)._shown(shown.model_copy(update={"status": RUNNING})).status == RUNNING
    stop = asyncio.Event()
    stop.set()
    await jobs.run(stop)  # a process starting marks what the dead left
    fresh = Jobs(db, JOBS, stale_after=10**9)  # a view that would never call it stale by itself
    marked = await fresh.get(orphan)
    assert marked.status == INTERRUPTED and marked.finished_at is not None


async def test_an_unknown_job_is_a_404_and_recent_lists_newest_first_by_kind(db: Database) -> None:
    jobs = Jobs(db, JOBS)
    with pytest.raises(NotFound, match="no job"):
        await jobs.get(uuid.uuid4())

    async def work(progress: Progress) -> dict[str, Any]:
        return {}

    first, _ = await jobs.run_now("registry_import", work)
    other, _ = await jobs.run_now("file_upload", work)
    last, _ = await jobs.run_now("registry_import", work)
    assert [j.id for j in await jobs.recent("registry_import", 10)] == [last, first]
    assert [j.id for j in await jobs.recent(None, 2)] == [last, other]
