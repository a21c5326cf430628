"""HTTP entrypoints of notify: the delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from services.notify import repository
from shared.db.session import ReadSession

router = APIRouter(tags=["deliveries"])


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


@router.get("/deliveries", response_model=list[DeliveryRead])
async def list_deliveries(
    session: ReadSession, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=10_000_000)
) -> list[DeliveryRead]:
    """The delivery log, newest first; recipients are masked."""
    return [DeliveryRead.model_validate(d) for d in await repository.recent_deliveries(session, limit, offset)]
