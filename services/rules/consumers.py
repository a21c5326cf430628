"""Kafka entrypoints of the rules service: the mirror image of its endpoints."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.matcher.live import LiveIndex
from services.rules.review import decisions
from services.rules.screening import service as screening
from shared.contracts import Envelope, Topic
from shared.contracts.ingest import V3_ONLY_KINDS, SignalReceived, SignalReceivedV2, SignalReceivedV3
from shared.contracts.notify import OrganisationResponded, SelfReported
from shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, live: LiveIndex) -> None:
    @runtime.consumer.handles(Topic.SIGNAL_RECEIVED_V2, SignalReceivedV2)
    async def on_signal_received(event: Envelope[SignalReceivedV2], session: AsyncSession) -> None:
        """Match every party of a new signal to certified organisations and raise risk events."""
        index = await live.current()
        await screening.screen(session, runtime.outbox, index, event.payload, caused_by=event.event_id)

    @runtime.consumer.handles(Topic.SIGNAL_RECEIVED, SignalReceived)
    async def on_signal_received_v1(event: Envelope[SignalReceived], session: AsyncSession) -> None:
        """A v1 signal (published before v2, or by an older ingest): its subject is its only party."""
        index = await live.current()
        signal = SignalReceivedV2.from_v1(event.payload)
        await screening.screen(session, runtime.outbox, index, signal, caused_by=event.event_id)

    @runtime.consumer.handles(Topic.SIGNAL_RECEIVED_V3, SignalReceivedV3)
    async def on_signal_received_v3(event: Envelope[SignalReceivedV3], session: AsyncSession) -> None:
        """A signal that corrects an earlier one (issue 15 §3): it links to the events it corrects; any other
        kind on v3 is screened as a v2 signal."""
        index, signal = await live.current(), event.payload
        if signal.kind in V3_ONLY_KINDS:
            await screening.correct(session, runtime.outbox, index, signal, caused_by=event.event_id)
        else:
            v2 = SignalReceivedV2.model_validate(signal.model_dump(exclude={"correction"}))
            await screening.screen(session, runtime.outbox, index, v2, caused_by=event.event_id)

    @runtime.consumer.handles(Topic.ORGANISATION_RESPONDED, OrganisationResponded)
    async def on_organisation_responded(event: Envelope[OrganisationResponded], session: AsyncSession) -> None:
        """An organisation acknowledged, replied, disputed or sent evidence from its page: the audit trail."""
        await decisions.organisation_responded(session, runtime.outbox, event.payload)

    @runtime.consumer.handles(Topic.SELF_REPORTED, SelfReported)
    async def on_self_reported(event: Envelope[SelfReported], session: AsyncSession) -> None:
        """A problem an organisation reported itself (自查自纠): screened as a signal of its own."""
        await screening.screen_self_report(session, runtime.outbox, event.payload, caused_by=event.event_id)
