"""HTTP entrypoints of ingest."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BeforeValidator

from services.ingest import repository, service
from services.ingest.schemas import SignalAccepted, SignalIn
from shared.auth import RESPONSES, Action, allowed
from shared.contracts.ingest import SignalV3
from shared.db.session import ReadSession, WriteSession
from shared.dependencies import OutboxDep
from shared.responses import errors


def _iso_only(value: object) -> object:
    """An ISO 8601 timestamp, as the schema says: a bare number is no date (pydantic would read it as epoch seconds)."""
    if isinstance(value, str | int | float) and re.fullmatch(
        r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", str(value)
    ):
        raise ValueError("an ISO 8601 date and time, e.g. 2026-11-01T00:00:00Z")
    return value


IsoDatetime = Annotated[datetime, BeforeValidator(_iso_only)]
router = APIRouter(tags=["signals"], responses=RESPONSES)
WRITE, READ = allowed(Action.WRITE_SIGNALS), allowed(Action.READ_FEEDS)


@router.post(
    "/signals",
    response_model=SignalAccepted,
    status_code=status.HTTP_201_CREATED,
    dependencies=[WRITE],
    responses={200: {"model": SignalAccepted, "description": "an exact re-delivery: not published again"}},
)
async def post_signal(
    incoming: SignalIn, session: WriteSession, outbox: OutboxDep, response: Response
) -> SignalAccepted:
    """Accept one signal; an exact re-delivery returns 200 with duplicate=true and is not published again."""
    signal, new = await service.accept_posted(session, outbox, incoming)
    if not new:
        response.status_code = status.HTTP_200_OK
    return SignalAccepted(
        signal_id=signal.signal_id,
        duplicate=not new,
        credit_code_status=signal.subject.credit_code_status.value,
        subject_key=signal.subject_key,
    )


@router.get("/signals/{signal_id}", response_model=SignalV3, dependencies=[READ], responses=errors(404))
async def get_signal(signal_id: uuid.UUID, session: ReadSession) -> SignalV3:
    """One accepted signal."""
    return await service.get(session, signal_id)


@router.get("/signals", response_model=list[SignalV3], dependencies=[READ])
async def list_signals(
    session: ReadSession,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10_000_000),
    since: IsoDatetime | None = Query(None, description="received at or after (ISO 8601); then oldest first"),
    after: uuid.UUID | None = Query(None, description="with `since`: in id order, those after this id (keyset paging)"),
) -> list[SignalV3] | Response:
    """Accepted signals, newest first; with `since`, those received since then, oldest first (for paging
    through them while new ones arrive, as a replay does), or in id order after `after` (a campaign sweep
    pages through millions: the nil UUID first, then each page's last id; the JSON as stored)."""
    if since is not None and after is not None:
        return Response(await repository.signals_after(session, since, after, limit), media_type="application/json")
    rows = await repository.list_signals(session, limit, offset, since)
    return [SignalV3.model_validate(r.payload) for r in rows]
