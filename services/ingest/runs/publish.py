"""The publish stage of a feed run: staged signals released into the outbox, a batch at a time, in the
caller's transaction (the relay publishes them once it commits)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.models import SignalRecord
from services.ingest.runs import repository
from shared.contracts import Topic, deterministic_id
from shared.contracts.ingest import V3_ONLY_KINDS
from shared.kafka.outbox import Outbox

RELEASE_BATCH = 5000


async def release(session: AsyncSession, outbox: Outbox, run_id: uuid.UUID, limit: int = RELEASE_BATCH) -> int:
    """Queue up to `limit` of the run's staged signals for publishing and mark them released; how many."""
    staged = await repository.unreleased(session, run_id, limit)
    if not staged:
        return 0
    # The stored payload is the SignalReceived payload: staged from the validated model.
    event_ids = [deterministic_id("signal-received", signal_id) for signal_id in staged]
    rows = repository.release_rows(staged, event_ids)
    # Corrections go on v3 (v2 has no such kind); every other signal stays on v2.
    corrections = SignalRecord.kind.in_([k.value for k in V3_ONLY_KINDS])
    await outbox.add_from(session, Topic.SIGNAL_RECEIVED_V2, rows.where(~corrections))
    await outbox.add_from(session, Topic.SIGNAL_RECEIVED_V3, rows.where(corrections))
    await repository.mark_released(session, staged)
    return len(staged)
