"""A registry import as a long job: the file is read on a worker thread (off the event loop), a chunk at a
time copied into the database, and written set-based (registry/bulk.py) in one transaction, with its
progress on `GET /jobs/{id}`.

The job owns its transaction, never a request: a caller that waits (`?wait=true`) and gives up (its
connection closed, its request cancelled) stops waiting, and the job goes on to its commit or rollback."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.responses import JSONResponse

from services.rules.registry import bulk
from services.rules.registry.importer import RegistryStream
from shared.errors import InvalidInput
from shared.jobs import UNFINISHED, JobFailed, Jobs, Progress, accepted
from shared.runtime import ServiceRuntime

KIND = "registry_import"


async def import_file(runtime: ServiceRuntime, data: bytes, source: str, progress: Progress) -> dict[str, Any]:
    """Read the export and write its organisations; the report (rows, created, updated, …, problems)."""
    progress.begin("reading rows")
    stream = RegistryStream(data, progress.advance)
    try:
        async with runtime.db.transaction() as session:
            report = await bulk.import_stream(session, runtime.outbox, stream, source, progress)
    except InvalidInput as exc:  # the file as a whole: not a registry export
        raise JobFailed(exc.message, detail=exc.detail) from exc
    runtime.committed()  # publish the changes, refresh the matcher's index
    return report.model_dump(mode="json")


async def submit(runtime: ServiceRuntime, jobs: Jobs, data: bytes, source: str, actor: str, wait: bool) -> JSONResponse:
    """Start the import as a job: 202 with the job; with `wait`, its report (200) once committed."""
    detail = {"file": source, "bytes": len(data)}

    async def work(progress: Progress) -> dict[str, Any]:
        return await import_file(runtime, data, source, progress)

    if not wait:
        return accepted(await jobs.get(await jobs.submit(KIND, work, detail, created_by=actor)))
    outcome: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def reported(progress: Progress) -> dict[str, Any]:
        try:
            report = await work(progress)
        except asyncio.CancelledError:
            outcome.cancel()
            raise
        except Exception as exc:
            if not outcome.done():
                outcome.set_exception(exc)
            raise
        outcome.set_result(report)
        return report

    # Not run in the request's task: a caller that gives up cancels its wait, never the import.
    outcome.add_done_callback(lambda done: done.cancelled() or done.exception())  # retrieved: never logged
    job_id = await jobs.submit(KIND, reported, detail, created_by=actor)
    try:
        report = await asyncio.shield(outcome)
    finally:
        if outcome.done():  # answered once the job's record says so too (GET /jobs agrees with the answer)
            while (await jobs.get(job_id)).status in UNFINISHED:  # noqa: ASYNC110 (a row, polled)
                await asyncio.sleep(0.05)
    return JSONResponse(report)
