"""HTTP entrypoints of the rules service: registry and risk events."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Request, UploadFile

from services.rules.registry import repository as registry_repository
from services.rules.registry import service as registry
from services.rules.registry.importer import parse_registry_csv
from services.rules.registry.schemas import ImportReport, OrganisationIn, OrganisationRead
from services.rules.review import repository as review_repository
from services.rules.review import service as review
from services.rules.review.schemas import RiskEventDetail, RiskEventRead
from shared.db.session import ReadSession, WriteSession

router = APIRouter()


@router.put("/organisations", response_model=OrganisationRead, tags=["registry"])
async def put_organisation(incoming: OrganisationIn, session: WriteSession, request: Request) -> OrganisationRead:
    """Create or replace one organisation (idempotent; a change adds a revision and is published)."""
    await registry.upsert(session, request.app.state.runtime.outbox, incoming, source="api")
    org = await registry.get(session, registry.organisation_id(incoming.external_ref))
    return OrganisationRead.model_validate(org)


@router.post("/organisations/import", response_model=ImportReport, tags=["registry"])
async def import_organisations(file: UploadFile, session: WriteSession, request: Request) -> ImportReport:
    """Import the certification body's CSV export; problems come back as row, field and problem."""
    parsed = parse_registry_csv(await file.read())
    report = ImportReport(rows=parsed.rows, rejected_rows=parsed.rejected_rows, problems=parsed.problems)
    for org in parsed.organisations.values():
        outcome = await registry.upsert(
            session, request.app.state.runtime.outbox, org, source=file.filename or "upload"
        )
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


@router.get("/organisations", response_model=list[OrganisationRead], tags=["registry"])
async def list_organisations(
    session: ReadSession,
    name: str | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> list[OrganisationRead]:
    """Organisations in the registry, by name."""
    return [OrganisationRead.model_validate(o) for o in await registry_repository.page(session, limit, offset, name)]


@router.get("/organisations/{organisation_id}", response_model=OrganisationRead, tags=["registry"])
async def get_organisation(organisation_id: uuid.UUID, session: ReadSession) -> OrganisationRead:
    """One organisation with its contacts and certificates."""
    return OrganisationRead.model_validate(await registry.get(session, organisation_id))


@router.get("/risk-events", response_model=list[RiskEventRead], tags=["review"])
async def list_risk_events(
    session: ReadSession,
    status: str | None = None,
    severity: str | None = None,
    organisation_id: uuid.UUID | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> list[RiskEventRead]:
    """Risk events, newest first, filtered by status, severity or organisation."""
    rows = await review_repository.page(
        session, status=status, severity=severity, organisation_id=organisation_id, limit=limit, offset=offset
    )
    return [RiskEventRead.model_validate(r) for r in rows]


@router.get("/risk-events/{risk_event_id}", response_model=RiskEventDetail, tags=["review"])
async def get_risk_event(risk_event_id: uuid.UUID, session: ReadSession) -> RiskEventDetail:
    """One risk event with its evidence, match explanation and audit trail."""
    return await review.get(session, risk_event_id)
