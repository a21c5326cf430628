"""HTTP entrypoints of review: risk events, their match verdicts, decisions and corrections."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.rules.review import corrections, decisions, verdicts
from services.rules.review import repository as review_repository
from services.rules.review import service as review
from services.rules.review.schemas import (
    AcceptIn,
    AssignIn,
    CloseIn,
    CommentIn,
    CorrectionVerdictIn,
    DecisionIn,
    MatchVerdictIn,
    RiskEventDetail,
    RiskEventRead,
    RiskEventSummary,
)
from shared.auth import RESPONSES, Action, Actor, allowed
from shared.db.session import ReadSession, WriteSession
from shared.dependencies import OutboxDep
from shared.responses import errors

router = APIRouter(responses=RESPONSES)
EVENT_ERRORS = errors(404, 409)  # no such risk event; not in a state the step applies to
READ = allowed(Action.READ)


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


@router.post(
    "/risk-events/{risk_event_id}/match-verdict", response_model=RiskEventRead, tags=["review"], responses=EVENT_ERRORS
)
async def post_match_verdict(
    risk_event_id: uuid.UUID,
    verdict: MatchVerdictIn,
    session: WriteSession,
    outbox: OutboxDep,
    actor: Annotated[Actor, allowed(Action.REVIEW)],
) -> RiskEventRead:
    """Confirm or reject the match behind a risk event; the pair is never asked about again."""
    event = await verdicts.record(
        session,
        outbox,
        risk_event_id,
        verdict.verdict == "confirmed",
        actor.name,
        verdict.reason,
    )
    return RiskEventRead.model_validate(event)


@router.post(
    "/risk-events/{risk_event_id}/assign", response_model=RiskEventRead, tags=["review"], responses=EVENT_ERRORS
)
async def assign_risk_event(
    risk_event_id: uuid.UUID,
    body: AssignIn,
    session: WriteSession,
    outbox: OutboxDep,
    actor: Annotated[Actor, allowed(Action.REVIEW)],
) -> RiskEventRead:
    """Assign a reviewer: an open event goes in review."""
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
    outbox: OutboxDep,
    actor: Annotated[Actor, allowed(Action.DECIDE)],
) -> RiskEventRead:
    """Decide: no action, explanation, corrective action (with deadline), special audit, suspend (until),
    withdraw or restore. Suspend, withdraw and restore change the certificates' status and publish it."""
    decision = decisions.Decision(
        body.measure,
        actor.name,
        body.reason,
        body.corrective_action_due,
        body.suspended_until,
        tuple(body.certificates),
        reply_due=body.reply_due,
    )
    return RiskEventRead.model_validate(await decisions.decide(session, outbox, risk_event_id, decision))


@router.post(
    "/risk-events/{risk_event_id}/close", response_model=RiskEventRead, tags=["review"], responses=EVENT_ERRORS
)
async def close_risk_event(
    risk_event_id: uuid.UUID,
    body: CloseIn,
    session: WriteSession,
    outbox: OutboxDep,
    actor: Annotated[Actor, allowed(Action.DECIDE)],
) -> RiskEventRead:
    """Close a decided event."""
    return RiskEventRead.model_validate(await decisions.close(session, outbox, risk_event_id, actor.name, body.reason))


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
    outbox: OutboxDep,
    actor: Annotated[Actor, allowed(Action.DECIDE)],
) -> RiskEventRead:
    """Accept the corrective action the organisation marked done on its page (409 when none waits)."""
    event = await decisions.accept_corrective_action(session, outbox, risk_event_id, actor.name, body.reason)
    return RiskEventRead.model_validate(event)


@router.post(
    "/risk-events/{risk_event_id}/correction", response_model=RiskEventRead, tags=["review"], responses=EVENT_ERRORS
)
async def decide_correction(
    risk_event_id: uuid.UUID,
    body: CorrectionVerdictIn,
    session: WriteSession,
    outbox: OutboxDep,
    actor: Annotated[Actor, allowed(Action.DECIDE)],
) -> RiskEventRead:
    """Confirm a correction pending on the event (复检合格, 异议成立, removed from the list): the event closes, its
    clocks end; or reject it: the event goes on. Certificates are never changed here (restore is a decision)."""
    act = corrections.confirm if body.verdict == "confirmed" else corrections.reject
    return RiskEventRead.model_validate(await act(session, outbox, risk_event_id, actor.name, body.reason))
