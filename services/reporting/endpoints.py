"""HTTP entrypoints of reporting."""

from __future__ import annotations

from fastapi import APIRouter

from services.reporting import service
from shared.db.session import ReadSession

router = APIRouter(tags=["reporting"])


@router.get("/summary")
async def get_summary(session: ReadSession) -> dict[str, object]:
    """Certificates screened, risk events by severity, province, kind and certificate type, measures taken."""
    return await service.summary(session)


@router.get("/risk-events/count")
async def count_risk_events(session: ReadSession) -> dict[str, int]:
    """The number of risk events raised so far."""
    summary = await service.summary(session)
    return {"risk_events_raised": int(summary["risk_events_raised"])}  # type: ignore[call-overload]
