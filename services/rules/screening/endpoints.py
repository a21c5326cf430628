"""HTTP entrypoints of screening: one name or a file against the live registry, and replaying stored signals."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, UploadFile
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from services.rules.dependencies import Live
from services.rules.matcher.index import RegistryIndex
from services.rules.matcher.screening import ScreeningInputError, screen_files
from services.rules.matcher.thread import on_matcher_thread
from services.rules.screening import service
from services.rules.screening.schemas import ReplayIn, ScreenQuery
from shared.auth import RESPONSES, Action, Actor, allowed
from shared.db.session import ReadSession, WriteSession
from shared.dependencies import OutboxDep
from shared.errors import InvalidInput

router = APIRouter(responses=RESPONSES)
READ = allowed(Action.READ)


@router.post("/replay", tags=["rules"], dependencies=[READ])
async def replay_dry_run(body: ReplayIn, session: ReadSession, live: Live) -> dict[str, object]:
    """What the current rules would raise for these signals, each marked raised already or not (writes nothing)."""
    index = await live.current()
    findings = await service.replay_dry_run(session, index, body.signals)
    return {
        "signals": len(body.signals),
        "would_raise": sum(not f.already_raised for f in findings),
        "already_raised": sum(f.already_raised for f in findings),
        "findings": [asdict(f) for f in findings],
    }


@router.post("/replay/apply", tags=["rules"])
async def replay_apply(
    body: ReplayIn,
    session: WriteSession,
    outbox: OutboxDep,
    live: Live,
    _: Annotated[Actor, allowed(Action.RAISE_FROM_REPLAY)],
) -> dict[str, int]:
    """Raise what the current rules call for and is missing (recovery); nothing is raised twice."""
    index = await live.current()
    raised = await service.replay(session, outbox, index, body.signals)
    return {"signals": len(body.signals), "raised": raised}


@router.post("/screening/match", tags=["screening"], dependencies=[READ])
async def screen_one(query: ScreenQuery, live: Live) -> list[dict[str, object]]:
    """Candidates for one name (and code) against the live registry, each with its score and evidence."""
    # matching runs on the matcher's thread, off the event loop
    found = await live.call(RegistryIndex.match, query.name, query.credit_code, query.address, query.province)
    return [{"org_id": c.org_id, "matched_name": c.matched_name, **c.summary().model_dump(mode="json")} for c in found]


@router.post("/screening", tags=["screening"], response_class=FileResponse, dependencies=[READ])
async def screen_file(file: UploadFile, live: Live) -> FileResponse:
    """Batch screening against the live registry: IN.csv (record_id,name,credit_code,address) in, OUT.csv out."""
    index = await live.current()
    folder = Path(tempfile.mkdtemp(prefix="screening-"))
    source, result = folder / "in.csv", folder / "out.csv"
    source.write_bytes(await file.read())
    try:
        await on_matcher_thread(screen_files, source, result, index=index)
    except (ScreeningInputError, UnicodeDecodeError) as exc:
        raise InvalidInput(str(exc)) from exc
    cleanup = BackgroundTask(shutil.rmtree, folder, ignore_errors=True)
    return FileResponse(result, media_type="text/csv", filename="screening.csv", background=cleanup)
