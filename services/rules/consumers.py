"""Kafka entrypoints of the rules service: the mirror image of its endpoints."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.registry.live_index import LiveIndex
from services.rules.review import decisions
from services.rules.screening import service as screening
from services.rules.screening.batch import Arrival, screen_batch
from shared.contracts import Envelope, Topic
from shared.contracts.ingest import V3_ONLY_KINDS, SignalReceived, SignalReceivedV2, SignalReceivedV3
from shared.contracts.notify import OrganisationResponded, SelfReported
from shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, live: LiveIndex) -> None:
    # Signals in batches, set-based (screening/batch.py): what `screening.screen` (and, for a v3 correction,
    # `screening.correct`) does for each in turn, with a few statements per batch.
    @runtime.consumer.handles_batch(Topic.SIGNAL_RECEIVED_V2, SignalReceivedV2)
    async def on_signals_received(events: list[Envelope[SignalReceivedV2]], session: AsyncSession) -> None:
        """Match every party of each new signal to certified organisations and raise risk events."""
        arrivals = [Arrival(e.payload, e.event_id, e.correlation_id) for e in events]
        await screen_batch(session, runtime.outbox, await live.current(), arrivals)

    @runtime.consumer.handles_batch(Topic.SIGNAL_RECEIVED, SignalReceived)
    async def on_signals_received_v1(events: list[Envelope[SignalReceived]], session: AsyncSession) -> None:
        """v1 signals (published before v2, or by an older ingest): each one's subject is its only party."""
        arrivals = [Arrival(SignalReceivedV2.from_v1(e.payload), e.event_id, e.correlation_id) for e in events]
        await screen_batch(session, runtime.outbox, await live.current(), arrivals)

    @runtime.consumer.handles_batch(Topic.SIGNAL_RECEIVED_V3, SignalReceivedV3)
    async def on_signals_received_v3(events: list[Envelope[SignalReceivedV3]], session: AsyncSession) -> None:
        """Signals that correct an earlier one (issue 15 §3): each links to the events it corrects; any other
        kind on v3 is screened as a v2 signal."""
        arrivals = [_v3(e) for e in events]
        await screen_batch(session, runtime.outbox, await live.current(), arrivals)

    @runtime.consumer.handles(Topic.ORGANISATION_RESPONDED, OrganisationResponded)
    async def on_organisation_responded(event: Envelope[OrganisationResponded], session: AsyncSession) -> None:
        """An organisation acknowledged, replied, disputed or sent evidence from its page: the audit trail."""
        await decisions.organisation_responded(session, runtime.outbox, event.payload)

    @runtime.consumer.handles(Topic.SELF_REPORTED, SelfReported)
    async def on_self_reported(event: Envelope[SelfReported], session: AsyncSession) -> None:
        """A problem an organisation reported itself (自查自纠): screened as a signal of its own."""
        await screening.screen_self_report(session, runtime.outbox, event.payload, caused_by=event.event_id)


def _v3(event: Envelope[SignalReceivedV3]) -> Arrival:
    signal = event.payload
    if signal.kind in V3_ONLY_KINDS:
        return Arrival(signal, event.event_id, event.correlation_id, corrects_only=True)
    v2 = SignalReceivedV2.model_validate(signal.model_dump(exclude={"correction"}))
    return Arrival(v2, event.event_id, event.correlation_id)
