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
    RiskEventRaisedV2,
    RiskEventUpdatedV2,
)
from shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, notifier: Notifier) -> None:
    @runtime.consumer.handles_batch(Topic.ORGANISATION_UPDATED)
    async def on_organisations_updated(events: list[Envelope[OrganisationUpdated]], session: AsyncSession) -> None:
        """Keep the organisations' contacts, and send alerts that waited for them (a batch at once: a
        registry import publishes an update per organisation, and alerts may be waiting for them)."""
        await notifier.organisations_updated(session, [(e.payload, e.event_id, e.correlation_id) for e in events])

    @runtime.consumer.handles(Topic.CERTIFICATE_STATUS_CHANGED)
    async def on_certificate_status_changed(event: Envelope[CertificateStatusChanged], session: AsyncSession) -> None:
        """Tell the organisation its certificate was suspended, withdrawn or restored."""
        await notifier.certificate_status_changed(session, event.payload, caused_by=event.event_id)

    # Risk events are read on v2 only (rules publishes every event on v1 and v2): the statutory clocks order
    # the reviewers' digest and show on the organisation's page.
    @runtime.consumer.handles_batch(Topic.RISK_EVENT_RAISED_V2)
    async def on_risk_events_raised(events: list[Envelope[RiskEventRaisedV2]], session: AsyncSession) -> None:
        """Alert the organisations' contacts about new risk events; list them in the digest; keep what each
        organisation's page shows of them, their statutory clocks included (a batch at once, a few
        statements for all)."""
        raised = [e.payload for e in events]
        await digest.raised(session, raised)
        await organisations.keep_raised(session, raised)
        await notifier.risk_events_raised(session, [(e.payload, e.event_id, e.correlation_id) for e in events])

    @runtime.consumer.handles(Topic.RISK_EVENT_UPDATED_V2)
    async def on_risk_event_updated(event: Envelope[RiskEventUpdatedV2], session: AsyncSession) -> None:
        """Tell the organisation what a decision asks of it; keep the digest's and the page's copies of the
        event's status and clocks."""
        await digest.updated(session, event.payload)
        await organisations.keep_updated(session, event.payload)
        await notifier.risk_event_updated(session, event.payload, caused_by=event.event_id)
