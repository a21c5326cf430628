"""An uploaded file, taken on: over the size limit a 413; unreadable as a whole at a glance (empty,
undecodable, corrupt, a zip bomb) a 422 at once, with the failed run that records it; otherwise run as
a job (shared/jobs.py), answered 202 to follow on GET /jobs/{id}, or, when the caller waits (a small
file by default, or `wait=true`), answered with the run's result: 200, or 422 if the file failed."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

from fastapi.responses import JSONResponse

from services.ingest.runs.config import FeedConfig
from services.ingest.runs.service import FeedRunner
from shared.errors import InvalidInput, TooLarge
from shared.jobs import JobFailed, Jobs, Progress, accepted
from shared.runtime import ServiceRuntime

KIND = "file_upload"


def receive(upload: IO[bytes], name: str | None, size: int | None, limit: int, work_dir: Path | None) -> Path:
    """The upload on disk, in a folder of its own (the job removes it once done); 413 over `limit`.
    Blocking: run it on a worker thread."""
    if size is not None and size > limit:
        raise TooLarge(f"the file is {size} bytes; the limit is {limit} (max_upload_bytes)")
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=work_dir))
    path = folder / (Path(name or "upload").name or "upload")
    with path.open("wb") as out:
        shutil.copyfileobj(upload, out, 1 << 20)
    if path.stat().st_size > limit:
        shutil.rmtree(folder, ignore_errors=True)
        raise TooLarge(f"the file is {path.stat().st_size} bytes; the limit is {limit} (max_upload_bytes)")
    return path


async def take(
    runtime: ServiceRuntime,
    runner: FeedRunner,
    jobs: Jobs,
    config: FeedConfig,
    path: Path,
    dry_run: bool,
    wait: bool,
    size: int,
) -> JSONResponse:
    """Refuse the file at once if it is unreadable as a whole; else run it as a job (`wait`: to its end)."""
    handed_over = False
    try:
        refused = await runner.refused(config, path, dry_run)
        if refused is not None:
            raise InvalidInput(refused.error or "the file cannot be read", run_id=str(refused.run_id))
        detail = {"file": path.name, "bytes": size, "kind": config.kind, "feed": config.name, "dry_run": dry_run}

        async def work(progress: Progress) -> dict[str, Any]:
            return await _ingest(runtime, runner, config, path, dry_run, progress)

        if wait:
            _, result = await jobs.run_now(KIND, work, detail)
            return JSONResponse(result)

        async def work_then_clean(progress: Progress) -> dict[str, Any]:
            try:
                return await work(progress)
            finally:
                await asyncio.to_thread(shutil.rmtree, path.parent, True)

        job_id = await jobs.submit(KIND, work_then_clean, detail)
        handed_over = True
        return accepted(await jobs.get(job_id))
    finally:
        if not handed_over:
            await asyncio.to_thread(shutil.rmtree, path.parent, True)


async def _ingest(
    runtime: ServiceRuntime, runner: FeedRunner, config: FeedConfig, path: Path, dry_run: bool, progress: Progress
) -> dict[str, Any]:
    """One run of the uploaded file; a run that failed fails its job, with the run's result kept."""

    def told(phase: str, done: int) -> None:
        if phase != progress.phase:
            progress.begin(phase)
        progress.done = done

    run = await runner.run(config, source=path, dry_run=dry_run, progress=told)
    runtime.publish_soon()
    result = run.model_dump(mode="json")
    if run.status == "failed":  # the file as a whole: its reason, with the run that records it
        raise JobFailed(run.error or "the file could not be read", result, {"run_id": str(run.run_id)})
    return result
