"""HTTP entrypoints of the registry: organisations, one at a time or imported as a job."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, UploadFile
from fastapi.responses import JSONResponse

from services.rules.dependencies import ImportJobs
from services.rules.registry import jobs as registry_jobs
from services.rules.registry import repository as registry_repository
from services.rules.registry import service as registry
from services.rules.registry.importer import organisation_id
from services.rules.registry.schemas import ContactRead, ImportReport, OrganisationIn, OrganisationRead
from shared.auth import RESPONSES, Action, Actor, allowed, masked_contact
from shared.db.session import ReadSession, WriteSession
from shared.dependencies import OutboxDep, RuntimeDep
from shared.jobs import JobRead, jobs_router
from shared.responses import errors

router = APIRouter(responses=RESPONSES)
READ = allowed(Action.READ)


@router.put("/organisations", response_model=OrganisationRead, tags=["registry"])
async def put_organisation(
    incoming: OrganisationIn,
    session: WriteSession,
    outbox: OutboxDep,
    _: Annotated[Actor, allowed(Action.MAINTAIN_REGISTRY)],
) -> OrganisationRead:
    """Create or replace one organisation (idempotent; a change adds a revision and is published)."""
    await registry.upsert(session, outbox, incoming, source="api")
    return OrganisationRead.model_validate(await registry.get(session, organisation_id(incoming.external_ref)))


@router.post(
    "/organisations/import",
    status_code=202,
    response_model=JobRead,
    tags=["registry"],
    responses={200: {"model": ImportReport, "description": "with wait=true: the report, once committed"}},
)
async def import_organisations(
    file: UploadFile,
    runtime: RuntimeDep,
    jobs: ImportJobs,
    actor: Annotated[Actor, allowed(Action.MAINTAIN_REGISTRY)],
    wait: bool = Query(False, description="answer with the report once committed (200), not with the job (202)"),
) -> JSONResponse:
    """Import the certification body's export (CSV or XLSX) as a job, followed on GET /jobs/{id}: progress, then
    the report (rows, created, updated, unchanged, and problems as row, field and problem)."""
    data = await file.read()
    return await registry_jobs.submit(runtime, jobs, data, file.filename or "upload", actor.name, wait)


def _shown(org: object, actor: Actor) -> OrganisationRead:
    """An organisation as this caller may see it: contacts masked unless the role needs them."""
    read = OrganisationRead.model_validate(org)
    if actor.can(Action.SEE_PERSONAL_DATA):
        return read
    return read.model_copy(update={"contacts": [ContactRead(**masked_contact(c.model_dump())) for c in read.contacts]})


@router.get("/organisations", response_model=list[OrganisationRead], tags=["registry"])
async def list_organisations(
    session: ReadSession,
    actor: Annotated[Actor, READ],
    name: str | None = Query(None, max_length=300),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> list[OrganisationRead]:
    """Organisations in the registry, by name; contacts are masked for roles that do not need them."""
    return [_shown(o, actor) for o in await registry_repository.page(session, limit, offset, name)]


@router.get(
    "/organisations/{organisation_id:uuid}", response_model=OrganisationRead, tags=["registry"], responses=errors(404)
)
async def get_organisation(
    organisation_id: uuid.UUID, session: ReadSession, actor: Annotated[Actor, READ]
) -> OrganisationRead:
    """One organisation with its contacts (masked for roles that do not need them) and certificates."""
    return _shown(await registry.get(session, organisation_id), actor)


# Registry imports run as jobs (registry/jobs.py): who may start one may follow it.
router.include_router(jobs_router(), dependencies=[allowed(Action.MAINTAIN_REGISTRY)])
