"""HTTP entrypoints of the campaign sweep: start one (a job), follow it, read its ranking and report."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.sweep import jobs, report, repository, service
from services.rules.sweep.models import Sweep
from services.rules.sweep.schemas import RankingRead, SweepIn, SweepRead
from shared import workdays
from shared.auth import RESPONSES, Action, Actor, allowed
from shared.db.session import ReadSession, WriteSession
from shared.errors import NotFound
from shared.responses import errors

router = APIRouter(tags=["campaign"], responses=RESPONSES)
READ = allowed(Action.READ)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.post("/sweeps", response_model=SweepRead, status_code=status.HTTP_202_ACCEPTED, responses=errors(409))
async def start_sweep(
    body: SweepIn,
    session: WriteSession,
    request: Request,
    response: Response,
    background: BackgroundTasks,
    actor: Annotated[Actor, allowed(Action.RUN_SWEEP)],
) -> Sweep:
    """Start a campaign sweep of the whole registry (202; follow it at `GET /sweeps/{id}`); 409 while one runs."""
    as_of = body.as_of or workdays.today()
    sweep = await service.create(session, actor.name, as_of, body.window)
    auth = request.headers.get("authorization")
    background.add_task(jobs.start, request.app, sweep.id, {"Authorization": auth} if auth else {})
    response.headers["Location"] = f"/sweeps/{sweep.id}"
    return sweep


@router.get("/sweeps", response_model=list[SweepRead], dependencies=[READ])
async def list_sweeps(
    session: ReadSession, limit: int = Query(20, ge=1, le=200), offset: int = Query(0, ge=0, le=100_000)
) -> list[Sweep]:
    """Sweeps, newest first."""
    return await repository.page(session, limit, offset)


@router.get("/sweeps/{sweep_id}", response_model=SweepRead, dependencies=[READ], responses=errors(404))
async def get_sweep(sweep_id: uuid.UUID, session: ReadSession) -> Sweep:
    """One sweep: its status and progress while it runs; when, with which ruleset, over what and how long."""
    return await _sweep(session, sweep_id)


@router.get("/sweeps/{sweep_id}/ranking", response_model=list[RankingRead], dependencies=[READ], responses=errors(404))
async def get_sweep_ranking(
    sweep_id: uuid.UUID,
    session: ReadSession,
    band: Literal["high", "medium", "low"] | None = None,
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> list[dict[str, Any]]:
    """Organisations by campaign risk, highest first, each with its score and the reasons for it."""
    await _sweep(session, sweep_id)
    return [_ranked(row) for row in await repository.ranking(session, sweep_id, limit, offset, band)]


@router.get(
    "/sweeps/{sweep_id}/organisations/{organisation_id}",
    response_model=RankingRead,
    dependencies=[READ],
    responses=errors(404),
)
async def get_sweep_organisation(
    sweep_id: uuid.UUID, organisation_id: uuid.UUID, session: ReadSession
) -> dict[str, Any]:
    """One organisation's rank in a sweep, with its reasons (404: the sweep found nothing about it)."""
    await _sweep(session, sweep_id)
    rows = await repository.ranking(session, sweep_id, 1, organisation_id=organisation_id)
    if not rows:
        raise NotFound(f"sweep {sweep_id} found nothing about organisation {organisation_id}")
    return _ranked(rows[0])


@router.get(
    "/sweeps/{sweep_id}/report",
    dependencies=[READ],
    responses={**errors(404), 200: {"content": {"application/json": {}, XLSX: {}}}},
)
async def get_sweep_report(
    sweep_id: uuid.UUID,
    session: ReadSession,
    format: Literal["json", "xlsx"] = "json",
    limit: int = Query(200, ge=0, le=100_000, description="JSON: rows of the case list and the annex"),
) -> Any:
    """The campaign report (DOMAIN.md §6.1): scope, hits, actions, cases, timeliness, certificate annex."""
    sweep = await _sweep(session, sweep_id)
    if format == "json":
        return await report.build(session, sweep, limit)
    built = await report.build(session, sweep)
    ranking = [_ranked(row) for row in await repository.ranking(session, sweep_id, None)]
    content = await asyncio.to_thread(report.workbook, built, ranking)  # a large annex: off the event loop
    name = f"campaign-report-{sweep.as_of.isoformat()}.xlsx"
    return Response(content, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def _sweep(session: AsyncSession, sweep_id: uuid.UUID) -> Sweep:
    sweep = await repository.get(session, sweep_id)
    if sweep is None:
        raise NotFound(f"no sweep {sweep_id}")
    return sweep


def _ranked(row: Any) -> dict[str, Any]:
    ranked, name, code, province = row
    return {
        "rank": ranked.rank,
        "organisation_id": ranked.organisation_id,
        "organisation": name,
        "credit_code": code,
        "province": province,
        "score": ranked.score,
        "band": ranked.band,
        "hits": ranked.hits,
        "in_force": ranked.in_force,
        "reasons": ranked.reasons,
    }
