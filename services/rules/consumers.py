"""Kafka entrypoints of the rules service: the mirror image of its endpoints."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.matcher.live import LiveIndex
from services.rules.screening import service as screening
from shared.contracts import Envelope, Topic
from shared.contracts.ingest import SignalReceived
from shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, live: LiveIndex) -> None:
    @runtime.consumer.handles(Topic.SIGNAL_RECEIVED, SignalReceived)
    async def on_signal_received(event: Envelope[SignalReceived], session: AsyncSession) -> None:
        """Match a new signal to certified organisations and raise risk events."""
        index = await live.current()
        await screening.screen(session, runtime.outbox, index, event.payload, caused_by=event.event_id)
