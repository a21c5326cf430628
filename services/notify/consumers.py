"""Kafka entrypoints of notify."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.service import Notifier
from shared.contracts import Envelope, Topic
from shared.contracts.rules import OrganisationUpdated, RiskEventRaised
from shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, notifier: Notifier) -> None:
    @runtime.consumer.handles(Topic.ORGANISATION_UPDATED, OrganisationUpdated)
    async def on_organisation_updated(event: Envelope[OrganisationUpdated], session: AsyncSession) -> None:
        """Keep the organisation's contacts, and send alerts that waited for them."""
        await notifier.organisation_updated(session, event.payload)

    @runtime.consumer.handles(Topic.RISK_EVENT_RAISED, RiskEventRaised)
    async def on_risk_event_raised(event: Envelope[RiskEventRaised], session: AsyncSession) -> None:
        """Alert the organisation's contacts about a new risk event."""
        await notifier.risk_event_raised(session, event.payload, caused_by=event.event_id)
