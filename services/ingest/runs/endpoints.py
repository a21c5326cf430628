"""HTTP entrypoints of feed runs: run a feed now, upload a file, read runs and their rejected rows."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, Query, UploadFile
from fastapi.responses import JSONResponse

from services.ingest.dependencies import Feeds, Runner, Settings, UploadJobs
from services.ingest.runs import repository, uploads
from services.ingest.runs.config import FEED_NAME, FeedConfig, FeedKind
from services.ingest.runs.schemas import FeedRunRead, RejectedRowRead, RunResult
from shared.auth import RESPONSES, Action, allowed
from shared.db.session import ReadSession
from shared.dependencies import RuntimeDep
from shared.errors import NotFound
from shared.jobs import JobRead, jobs_router
from shared.responses import errors

router = APIRouter(tags=["feeds"], responses=RESPONSES)
WRITE, READ = allowed(Action.WRITE_SIGNALS), allowed(Action.READ_FEEDS)  # shared/auth.py: who may


@router.get("/feeds", response_model=list[FeedConfig], dependencies=[READ])
async def list_feeds(feeds: Feeds) -> list[FeedConfig]:
    """The configured feeds and their schedules."""
    return list(feeds)


@router.post("/feeds/{name}/runs", response_model=RunResult, dependencies=[WRITE], responses=errors(404))
async def run_feed(name: str, feeds: Feeds, runner: Runner, runtime: RuntimeDep, dry_run: bool = False) -> RunResult:
    """Run one configured feed now (on demand), as the nightly schedule would."""
    feed = next((f for f in feeds if f.name == name), None)
    if feed is None:
        raise NotFound(f"no feed named {name!r}; see GET /feeds")
    result = await runner.run(feed, dry_run=dry_run)
    runtime.publish_soon()
    return result


@router.post(
    "/files",
    status_code=202,
    response_model=JobRead,
    dependencies=[WRITE],
    responses={200: {"model": RunResult, "description": "when the caller waits: the run's result"}, **errors(413, 422)},
)
async def upload_file(
    file: UploadFile,
    runtime: RuntimeDep,
    runner: Runner,
    jobs: UploadJobs,
    settings: Settings,
    kind: FeedKind = Query(...),
    feed: str | None = Query(
        None, max_length=100, pattern=FEED_NAME, description="the feed to record the run under (a-z 0-9 . _ -)"
    ),
    dry_run: bool = False,
    publisher: str | None = Query(
        None, max_length=100, description="the authority that published the file: its level when the file does not say"
    ),
    wait: bool | None = Query(
        None,
        description="answer once ingested (200, or 422 if the file fails), not at once with a job (202); "
        "unset: wait for a file up to upload_wait_bytes",
    ),
) -> JSONResponse:
    """Ingest an uploaded bulletin, list or status file as a job, followed on GET /jobs/{id}; `dry_run` parses and
    validates only. A file unreadable as a whole (empty, undecodable, corrupt, a zip bomb) is a 422 at once."""
    limit = settings.max_upload_bytes
    path = await asyncio.to_thread(uploads.receive, file.file, file.filename, file.size, limit, settings.work_dir)
    size = (await asyncio.to_thread(path.stat)).st_size
    name = feed or f"upload.{kind}"
    config = FeedConfig(name=name, kind=kind, url=f"upload:{file.filename}", max_bytes=limit, publisher=publisher)
    waits = size <= settings.upload_wait_bytes if wait is None else wait
    return await uploads.take(runtime, runner, jobs, config, path, dry_run, waits, size)


@router.get("/feed-runs", response_model=list[FeedRunRead], dependencies=[READ])
async def list_feed_runs(
    session: ReadSession, feed: str | None = None, limit: int = Query(50, ge=1, le=500)
) -> list[FeedRunRead]:
    """Feed runs, newest first: when, how they ended and what they counted."""
    return [FeedRunRead.model_validate(r) for r in await repository.runs(session, feed, limit)]


@router.get("/feed-runs/{run_id}/rejected", response_model=list[RejectedRowRead], dependencies=[READ])
async def list_rejected_rows(
    run_id: uuid.UUID, session: ReadSession, limit: int = Query(500, ge=1, le=5000)
) -> list[RejectedRowRead]:
    """The rows a run rejected, with row number, reason and raw content."""
    return [RejectedRowRead.model_validate(r) for r in await repository.rejected(session, run_id, limit)]


# Uploads run as jobs (runs/uploads.py): whoever may read feed runs may follow them.
router.include_router(jobs_router(), dependencies=[READ])
