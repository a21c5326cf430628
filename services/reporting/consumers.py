"""Kafka entrypoints of reporting: every event feeds a read model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting import repository, service
from shared.contracts import Envelope, Topic
from shared.contracts.ingest import FeedRunCompleted
from shared.contracts.notify import NotificationDelivered, NotificationFailed
from shared.contracts.rules import (
    CertificateStatusChanged,
    OrganisationUpdated,
    RiskEventUpdated,
    RiskEventUpdatedV2,
)
from shared.runtime import ServiceRuntime

PROJECTIONS: list[tuple[Topic, type[BaseModel], Callable[[AsyncSession, Any], Awaitable[None]]]] = [
    (Topic.RISK_EVENT_RAISED, service.RiskEventRaisedAnyKind, service.risk_event_raised),  # any kind's word
    (Topic.RISK_EVENT_UPDATED, RiskEventUpdated, service.risk_event_updated),
    # v2 carries the same events with their statutory clocks: only the clocks are read from it
    (Topic.RISK_EVENT_RAISED_V2, service.RiskEventRaisedV2AnyKind, service.risk_event_clocks),
    (Topic.RISK_EVENT_UPDATED_V2, RiskEventUpdatedV2, service.risk_event_clocks),
    (Topic.CERTIFICATE_STATUS_CHANGED, CertificateStatusChanged, service.certificate_status_changed),
    (Topic.ORGANISATION_UPDATED, OrganisationUpdated, service.organisation_updated),
    (Topic.FEED_RUN_COMPLETED, FeedRunCompleted, service.feed_run_completed),
    (Topic.NOTIFICATION_DELIVERED, NotificationDelivered, service.notification),
    (Topic.NOTIFICATION_FAILED, NotificationFailed, service.notification),
]


def register(runtime: ServiceRuntime) -> None:
    for topic, model, project in PROJECTIONS:
        runtime.consumer.handles_batch(topic, model)(_entrypoint(topic, project))


def _entrypoint(
    topic: Topic, project: Callable[[AsyncSession, Any], Awaitable[None]]
) -> Callable[[list[Envelope[Any]], AsyncSession], Awaitable[None]]:
    """A batch of events projected one after the other, their writes gathered and made set-based at the end
    (repository.batched: a few statements per batch instead of a dozen per event)."""
    adds = topic is Topic.RISK_EVENT_RAISED  # the events it may add are looked up once, first
    clocks = topic in (Topic.RISK_EVENT_RAISED_V2, Topic.RISK_EVENT_UPDATED_V2)  # and the clocks it may put

    async def on_events(events: list[Envelope[Any]], session: AsyncSession) -> None:
        async with repository.batched(
            session,
            [e.payload.risk_event_id for e in events] if adds else (),
            [e.payload.risk_event_id for e in events if e.payload.clocks] if clocks else None,
        ):
            for event in events:
                await project(session, event.payload)

    on_events.__name__ = f"on_{project.__name__}"
    return on_events
