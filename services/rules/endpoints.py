"""HTTP entrypoints of the rules service: registry and risk events."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from services.rules.matcher.index import RegistryIndex
from services.rules.matcher.live import on_matcher_thread
from services.rules.matcher.screening import ScreeningInputError, screen_files
from services.rules.registry import jobs as registry_jobs
from services.rules.registry import repository as registry_repository
from services.rules.registry import service as registry
from services.rules.registry.schemas import ContactRead, ImportReport, OrganisationIn, OrganisationRead
from services.rules.review import corrections, decisions, verdicts
from services.rules.review import repository as review_repository
from services.rules.review import service as review
from services.rules.review.schemas import RiskEventDetail, RiskEventRead, RiskEventSummary
from services.rules.screening import replay
from shared.auth import RESPONSES, Action, Actor, allowed, masked_contact
from shared.contracts.ingest import SignalReceivedV2
from shared.contracts.rules import Measure
from shared.db.session import ReadSession, WriteSession
from shared.errors import InvalidInput
from shared.jobs import JobRead, jobs_router
from shared.responses import errors

router = APIRouter(responses=RESPONSES)
EVENT_ERRORS = errors(404, 409)  # no such risk event; not in a state the step applies to
READ = allowed(Action.READ)


@router.put("/organisations", response_model=OrganisationRead, tags=["registry"])
async def put_organisation(
    incoming: OrganisationIn,
    session: WriteSession,
    request: Request,
    _: Annotated[Actor, allowed(Action.MAINTAIN_REGISTRY)],
) -> OrganisationRead:
    """Create or replace one organisation (idempotent; a change adds a revision and is published)."""
    await registry.upsert(session, request.app.state.runtime.outbox, incoming, source="api")
    return OrganisationRead.model_validate(await registry.get(session, registry.organisation_id(incoming.external_ref)))


@router.post(
    "/organisations/import", status_code=202, response_model=JobRead, tags=["registry"],
    responses={200: {"model": ImportReport, "description": "with wait=true: the report, once committed"}},
)  # fmt: skip
async def import_organisations(
    file: UploadFile,
    request: Request,
    actor: Annotated[Actor, allowed(Action.MAINTAIN_REGISTRY)],
    wait: bool = Query(False, description="answer with the report once committed (200), not with the job (202)"),
) -> JSONResponse:
    """Import the certification body's export (CSV or XLSX) as a job, followed on GET /jobs/{id}: progress, then
    the report (rows, created, updated, unchanged, and problems as row, field and problem)."""
    state, data = request.app.state, await file.read()
    return await registry_jobs.submit(state.runtime, state.jobs, data, file.filename or "upload", actor.name, wait)


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


@router.get("/risk-events", response_model=list[RiskEventSummary], tags=["review"], dependencies=[READ])
async def list_risk_events(
    session: ReadSession,
    status: str | None = None,
    severity: str | None = None,
    organisation_id: uuid.UUID | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> list[RiskEventSummary]:
    """Risk events, newest first, filtered by status, severity or organisation: summaries (the evidence, the
    match explanation, the clocks and the audit trail are at GET /risk-events/{id})."""
    rows = await review_repository.summaries(
        session, status=status, severity=severity, organisation_id=organisation_id, limit=limit, offset=offset
    )
    return [RiskEventSummary.model_validate(r) for r in rows]


@router.get(
    "/risk-events/{risk_event_id}",
    response_model=RiskEventDetail,
    tags=["review"],
    dependencies=[READ],
    responses=errors(404),
)
async def get_risk_event(risk_event_id: uuid.UUID, session: ReadSession) -> RiskEventDetail:
    """One risk event with its evidence, match explanation and audit trail."""
    return await review.get(session, risk_event_id)


class MatchVerdictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["confirmed", "rejected"]
    reason: str | None = Field(default=None, max_length=2000)


@router.post(
    "/risk-events/{risk_event_id}/match-verdict", response_model=RiskEventRead, tags=["review"], responses=EVENT_ERRORS
)
async def post_match_verdict(
    risk_event_id: uuid.UUID,
    verdict: MatchVerdictIn,
    session: WriteSession,
    request: Request,
    actor: Annotated[Actor, allowed(Action.REVIEW)],
) -> RiskEventRead:
    """Confirm or reject the match behind a risk event; the pair is never asked about again."""
    event = await verdicts.record(
        session, request.app.state.runtime.outbox, risk_event_id, verdict.verdict == "confirmed", actor.name,
        verdict.reason,
    )  # fmt: skip
    return RiskEventRead.model_validate(event)


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str = Field(min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=2000)


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=5000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    measure: Measure
    reason: str = Field(min_length=1, max_length=2000, description="why: it goes on the audit trail")
    corrective_action_due: date | None = Field(default=None, description="corrective_action: the deadline")
    suspended_until: date | None = Field(default=None, description="suspend: at most 6 months away")
    reply_due: date | None = Field(default=None, description="request_explanation: the organisation answers by")
    certificates: list[str] = Field(
        default_factory=list, max_length=200,
        description="suspend / withdraw / restore: certificate numbers; none: every one the measure applies to",
    )  # fmt: skip


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


@router.post(
    "/risk-events/{risk_event_id}/assign", response_model=RiskEventRead, tags=["review"], responses=EVENT_ERRORS
)
async def assign_risk_event(
    risk_event_id: uuid.UUID,
    body: AssignIn,
    session: WriteSession,
    request: Request,
    actor: Annotated[Actor, allowed(Action.REVIEW)],
) -> RiskEventRead:
    """Assign a reviewer: an open event goes in review."""
    outbox = request.app.state.runtime.outbox
    return RiskEventRead.model_validate(
        await decisions.assign(session, outbox, risk_event_id, body.assignee, actor.name, body.reason)
    )


@router.post(
    "/risk-events/{risk_event_id}/comments",
    response_model=RiskEventRead,
    status_code=201,
    tags=["review"],
    responses=EVENT_ERRORS,
)
async def comment_risk_event(
    risk_event_id: uuid.UUID, body: CommentIn, session: WriteSession, actor: Annotated[Actor, allowed(Action.REVIEW)]
) -> RiskEventRead:
    """Add a comment to the event's audit trail."""
    return RiskEventRead.model_validate(await decisions.comment(session, risk_event_id, actor.name, body.text))


@router.post(
    "/risk-events/{risk_event_id}/decision", response_model=RiskEventRead, tags=["review"], responses=EVENT_ERRORS
)
async def decide_risk_event(
    risk_event_id: uuid.UUID,
    body: DecisionIn,
    session: WriteSession,
    request: Request,
    actor: Annotated[Actor, allowed(Action.DECIDE)],
) -> RiskEventRead:
    """Decide: no action, explanation, corrective action (with deadline), special audit, suspend (until),
    withdraw or restore. Suspend, withdraw and restore change the certificates' status and publish it."""
    decision = decisions.Decision(
        body.measure, actor.name, body.reason, body.corrective_action_due, body.suspended_until,
        tuple(body.certificates), reply_due=body.reply_due,
    )  # fmt: skip
    outbox = request.app.state.runtime.outbox
    return RiskEventRead.model_validate(await decisions.decide(session, outbox, risk_event_id, decision))


@router.post(
    "/risk-events/{risk_event_id}/close", response_model=RiskEventRead, tags=["review"], responses=EVENT_ERRORS
)
async def close_risk_event(
    risk_event_id: uuid.UUID,
    body: CloseIn,
    session: WriteSession,
    request: Request,
    actor: Annotated[Actor, allowed(Action.DECIDE)],
) -> RiskEventRead:
    """Close a decided event."""
    outbox = request.app.state.runtime.outbox
    return RiskEventRead.model_validate(await decisions.close(session, outbox, risk_event_id, actor.name, body.reason))


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, description="why: it goes on the audit trail")


@router.post(
    "/risk-events/{risk_event_id}/corrective-action/accept",
    response_model=RiskEventRead,
    tags=["review"],
    responses=EVENT_ERRORS,
)
async def accept_corrective_action(
    risk_event_id: uuid.UUID,
    body: AcceptIn,
    session: WriteSession,
    request: Request,
    actor: Annotated[Actor, allowed(Action.DECIDE)],
) -> RiskEventRead:
    """Accept the corrective action the organisation marked done on its page (409 when none waits)."""
    outbox = request.app.state.runtime.outbox
    event = await decisions.accept_corrective_action(session, outbox, risk_event_id, actor.name, body.reason)
    return RiskEventRead.model_validate(event)


class CorrectionVerdictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["confirmed", "rejected"]
    reason: str = Field(min_length=1, max_length=2000, description="why: it goes on the audit trail")


@router.post(
    "/risk-events/{risk_event_id}/correction", response_model=RiskEventRead, tags=["review"], responses=EVENT_ERRORS
)
async def decide_correction(
    risk_event_id: uuid.UUID,
    body: CorrectionVerdictIn,
    session: WriteSession,
    request: Request,
    actor: Annotated[Actor, allowed(Action.DECIDE)],
) -> RiskEventRead:
    """Confirm a correction pending on the event (复检合格, 异议成立, removed from the list): the event closes, its
    clocks end; or reject it: the event goes on. Certificates are never changed here (restore is a decision)."""
    outbox = request.app.state.runtime.outbox
    act = corrections.confirm if body.verdict == "confirmed" else corrections.reject
    return RiskEventRead.model_validate(await act(session, outbox, risk_event_id, actor.name, body.reason))


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signals: list[SignalReceivedV2] = Field(
        min_length=1, max_length=2000, description="stored signals, as ingest keeps them"
    )


@router.post("/replay", tags=["rules"], dependencies=[READ])
async def replay_dry_run(body: ReplayIn, session: ReadSession, request: Request) -> dict[str, object]:
    """What the current rules would raise for these signals, each marked raised already or not (writes nothing)."""
    index = await request.app.state.live_index.current()
    findings = await replay.dry_run(session, index, body.signals)
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
    request: Request,
    _: Annotated[Actor, allowed(Action.RAISE_FROM_REPLAY)],
) -> dict[str, int]:
    """Raise what the current rules call for and is missing (recovery); nothing is raised twice."""
    index = await request.app.state.live_index.current()
    raised = await replay.apply(session, request.app.state.runtime.outbox, index, body.signals)
    return {"signals": len(body.signals), "raised": raised}


class ScreenQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    credit_code: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=500)
    province: str | None = Field(default=None, max_length=50)


@router.post("/screening/match", tags=["screening"], dependencies=[READ])
async def screen_one(query: ScreenQuery, request: Request) -> list[dict[str, object]]:
    """Candidates for one name (and code) against the live registry, each with its score and evidence."""
    live = request.app.state.live_index  # matching runs on the matcher's thread, off the event loop
    found = await live.call(RegistryIndex.match, query.name, query.credit_code, query.address, query.province)
    return [{"org_id": c.org_id, "matched_name": c.matched_name, **c.summary().model_dump(mode="json")} for c in found]


@router.post("/screening", tags=["screening"], response_class=FileResponse, dependencies=[READ])
async def screen_file(file: UploadFile, request: Request) -> FileResponse:
    """Batch screening against the live registry: IN.csv (record_id,name,credit_code,address) in, OUT.csv out."""
    index = await request.app.state.live_index.current()
    folder = Path(tempfile.mkdtemp(prefix="screening-"))
    source, result = folder / "in.csv", folder / "out.csv"
    source.write_bytes(await file.read())
    try:
        await on_matcher_thread(screen_files, source, result, index=index)
    except (ScreeningInputError, UnicodeDecodeError) as exc:
        raise InvalidInput(str(exc)) from exc
    cleanup = BackgroundTask(shutil.rmtree, folder, ignore_errors=True)
    return FileResponse(result, media_type="text/csv", filename="screening.csv", background=cleanup)


# Registry imports run as jobs (registry/jobs.py): who may start one may follow it.
router.include_router(jobs_router(), dependencies=[allowed(Action.MAINTAIN_REGISTRY)])
