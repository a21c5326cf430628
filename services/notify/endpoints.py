"""HTTP entrypoints of notify: the delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from services.notify import repository
from shared.auth import RESPONSES, Action, Actor, allowed
from shared.db.session import ReadSession
from shared.logging import mask_personal_data

router = APIRouter(tags=["deliveries"], responses=RESPONSES)


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organisation_id: uuid.UUID
    risk_event_id: uuid.UUID | None
    channel: str
    recipient_masked: str
    template: str
    status: str
    attempts: int
    error: str | None
    created_at: datetime


def _shown(delivery: object, actor: Actor) -> DeliveryRead:
    """A delivery as this caller may see it: an address or number in the error is masked unless the role needs it."""
    read = DeliveryRead.model_validate(delivery)
    if read.error and not actor.can(Action.SEE_PERSONAL_DATA):
        return read.model_copy(update={"error": mask_personal_data(read.error)})
    return read


@router.get("/deliveries", response_model=list[DeliveryRead])
async def list_deliveries(
    session: ReadSession,
    actor: Annotated[Actor, allowed(Action.READ)],
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> list[DeliveryRead]:
    """The delivery log, newest first; recipients are masked."""
    return [_shown(d, actor) for d in await repository.recent_deliveries(session, limit, offset)]
