"""A registry import as a long job: the file is read on a worker thread (off the event loop), then
written in one transaction, a batch at a time, with its progress on `GET /jobs/{id}`."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.responses import JSONResponse

from services.rules.registry import service as registry
from services.rules.registry.importer import parse_registry
from shared.errors import InvalidInput
from shared.jobs import JobFailed, Jobs, Progress, accepted
from shared.runtime import ServiceRuntime

KIND = "registry_import"


async def import_file(runtime: ServiceRuntime, data: bytes, source: str, progress: Progress) -> dict[str, Any]:
    """Read the export and write its organisations; the report (rows, created, updated, …, problems)."""
    progress.begin("reading rows")
    try:
        parsed = await asyncio.to_thread(parse_registry, data, progress.advance)
    except InvalidInput as exc:  # the file as a whole: not a registry export
        raise JobFailed(exc.message, detail=exc.detail) from exc
    progress.begin("writing organisations", total=len(parsed.organisations))
    async with runtime.db.transaction() as session:
        report = await registry.import_organisations(session, runtime.outbox, parsed, source, progress.advance)
    runtime.committed()  # publish the changes, refresh the matcher's index
    return report.model_dump(mode="json")


async def submit(runtime: ServiceRuntime, jobs: Jobs, data: bytes, source: str, actor: str, wait: bool) -> JSONResponse:
    """Start the import as a job: 202 with the job; with `wait`, its report (200) once committed."""
    detail = {"file": source, "bytes": len(data)}

    async def work(progress: Progress) -> dict[str, Any]:
        return await import_file(runtime, data, source, progress)

    if wait:
        _, report = await jobs.run_now(KIND, work, detail, created_by=actor)
        return JSONResponse(report)
    return accepted(await jobs.get(await jobs.submit(KIND, work, detail, created_by=actor)))
