"""Reading risk events for reviewers."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.review import repository
from services.rules.review.decisions import corrective_action_state
from services.rules.review.schemas import AuditEntryRead, RiskEventDetail
from shared.errors import NotFound


async def get(session: AsyncSession, risk_event_id: uuid.UUID) -> RiskEventDetail:
    event = await repository.get(session, risk_event_id)
    if event is None:
        raise NotFound(f"no risk event {risk_event_id}")
    detail = RiskEventDetail.model_validate(event)
    trail = await repository.audit_trail(session, risk_event_id)
    detail.audit = [AuditEntryRead.model_validate(a) for a in trail]
    detail.corrective_action = corrective_action_state(trail)
    return detail
