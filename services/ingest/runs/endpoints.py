"""HTTP entrypoints of feed runs: run a feed now, upload a file, read runs and their rejected rows."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

from fastapi import APIRouter, Query, Request, UploadFile

from services.ingest.runs import repository
from services.ingest.runs.config import FEED_NAME, FeedConfig, FeedKind
from services.ingest.runs.schemas import FeedRunRead, RejectedRowRead, RunResult
from services.ingest.runs.service import FeedRunner, RunSummary
from shared.auth import RESPONSES, Action, allowed
from shared.db.session import ReadSession
from shared.errors import InvalidInput, NotFound, TooLarge
from shared.responses import errors

router = APIRouter(tags=["feeds"], responses=RESPONSES)
WRITE, READ = allowed(Action.WRITE_SIGNALS), allowed(Action.READ_FEEDS)  # shared/auth.py: who may


def _runner(request: Request) -> FeedRunner:
    runner: FeedRunner = request.app.state.feed_runner
    return runner


def _result(summary: RunSummary) -> RunResult:
    return RunResult(**summary.__dict__)


@router.get("/feeds", response_model=list[FeedConfig], dependencies=[READ])
async def list_feeds(request: Request) -> list[FeedConfig]:
    """The configured feeds and their schedules."""
    return list(request.app.state.feeds)


@router.post("/feeds/{name}/runs", response_model=RunResult, dependencies=[WRITE], responses=errors(404))
async def run_feed(name: str, request: Request, dry_run: bool = False) -> RunResult:
    """Run one configured feed now (on demand), as the nightly schedule would."""
    feed = next((f for f in request.app.state.feeds if f.name == name), None)
    if feed is None:
        raise NotFound(f"no feed named {name!r}; see GET /feeds")
    summary = await _runner(request).run(feed, dry_run=dry_run)
    request.app.state.runtime.publish_soon()
    return _result(summary)


@router.post("/files", response_model=RunResult, dependencies=[WRITE], responses=errors(413, 422))
async def upload_file(
    file: UploadFile,
    request: Request,
    kind: FeedKind = Query(...),
    feed: str | None = Query(
        None, max_length=100, pattern=FEED_NAME, description="the feed to record the run under (a-z 0-9 . _ -)"
    ),
    dry_run: bool = False,
    publisher: str | None = Query(
        None, max_length=100, description="the authority that published the file: its level when the file does not say"
    ),
) -> RunResult:
    """Ingest an uploaded bulletin, list or status file; `dry_run` parses and validates only."""
    name = feed or f"upload.{kind}"
    limit = request.app.state.runtime.settings.max_upload_bytes
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (Path(file.filename or "upload").name or "upload")
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, 1 << 20)
        if path.stat().st_size > limit:
            raise TooLarge(f"the file is {path.stat().st_size} bytes; the limit is {limit} (max_upload_bytes)")
        config = FeedConfig(name=name, kind=kind, url=f"upload:{file.filename}", max_bytes=limit, publisher=publisher)
        summary = await _runner(request).run(config, source=path, dry_run=dry_run)
    request.app.state.runtime.publish_soon()
    if summary.status == "failed":  # the file as a whole: its reason, with the run that records it
        raise InvalidInput(summary.error or "the file could not be read", run_id=str(summary.run_id))
    return _result(summary)


@router.get("/feed-runs", response_model=list[FeedRunRead], dependencies=[READ])
async def list_feed_runs(session: ReadSession, feed: str | None = None, limit: int = Query(50, ge=1, le=500)):
    """Feed runs, newest first: when, how they ended and what they counted."""
    return [FeedRunRead.model_validate(r) for r in await repository.runs(session, feed, limit)]


@router.get("/feed-runs/{run_id}/rejected", response_model=list[RejectedRowRead], dependencies=[READ])
async def list_rejected_rows(run_id: uuid.UUID, session: ReadSession, limit: int = Query(500, ge=1, le=5000)):
    """The rows a run rejected, with row number, reason and raw content."""
    return [RejectedRowRead.model_validate(r) for r in await repository.rejected(session, run_id, limit)]
