"""Kafka entrypoints of reporting: every event feeds a read model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting import service
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
        runtime.consumer.handles(topic, model)(_entrypoint(project))


def _entrypoint(project: Callable[[AsyncSession, Any], Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    async def on_event(event: Envelope[Any], session: AsyncSession) -> None:
        await project(session, event.payload)

    on_event.__name__ = f"on_{project.__name__}"
    return on_event
