"""Kafka entrypoints of notify."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import digest
from services.notify.organisations import service as organisations
from services.notify.service import Notifier
from shared.contracts import Envelope, Topic
from shared.contracts.rules import (
    CertificateStatusChanged,
    OrganisationUpdated,
    RiskEventRaised,
    RiskEventRaisedV2,
    RiskEventUpdated,
    RiskEventUpdatedV2,
)
from shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, notifier: Notifier) -> None:
    @runtime.consumer.handles(Topic.ORGANISATION_UPDATED, OrganisationUpdated)
    async def on_organisation_updated(event: Envelope[OrganisationUpdated], session: AsyncSession) -> None:
        """Keep the organisation's contacts, and send alerts that waited for them."""
        await notifier.organisation_updated(session, event.payload)

    @runtime.consumer.handles(Topic.RISK_EVENT_RAISED, RiskEventRaised)
    async def on_risk_event_raised(event: Envelope[RiskEventRaised], session: AsyncSession) -> None:
        """Alert the organisation's contacts about a new risk event."""
        await digest.raised(session, event.payload)
        await notifier.risk_event_raised(session, event.payload, caused_by=event.event_id)

    @runtime.consumer.handles(Topic.RISK_EVENT_UPDATED, RiskEventUpdated)
    async def on_risk_event_updated(event: Envelope[RiskEventUpdated], session: AsyncSession) -> None:
        """Tell the organisation what a decision asks of it."""
        await digest.updated(session, event.payload)
        await notifier.risk_event_updated(session, event.payload, caused_by=event.event_id)

    @runtime.consumer.handles(Topic.CERTIFICATE_STATUS_CHANGED, CertificateStatusChanged)
    async def on_certificate_status_changed(event: Envelope[CertificateStatusChanged], session: AsyncSession) -> None:
        """Tell the organisation its certificate was suspended, withdrawn or restored."""
        await notifier.certificate_status_changed(session, event.payload, caused_by=event.event_id)

    @runtime.consumer.handles(Topic.RISK_EVENT_RAISED_V2, RiskEventRaisedV2)
    async def on_risk_event_raised_v2(event: Envelope[RiskEventRaisedV2], session: AsyncSession) -> None:
        """Keep what the organisation's page shows of the event, its statutory clocks included."""
        await organisations.keep_raised(session, event.payload)

    @runtime.consumer.handles(Topic.RISK_EVENT_UPDATED_V2, RiskEventUpdatedV2)
    async def on_risk_event_updated_v2(event: Envelope[RiskEventUpdatedV2], session: AsyncSession) -> None:
        """Keep the page's copy of the event's status and clocks."""
        await organisations.keep_updated(session, event.payload)
