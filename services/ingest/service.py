"""Accepting signals: validate the subject's code, keep the raw record, drop re-deliveries, publish."""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest import repository
from services.ingest.feeds.base import code_status, content_hash, signal_id
from services.ingest.schemas import SignalIn
from shared.contracts import Topic, deterministic_id
from shared.contracts.ingest import V3_ONLY_KINDS, SignalReceivedV2, SignalReceivedV3, SignalV2, SignalV3, Subject
from shared.errors import NotFound
from shared.identifiers import check_code
from shared.kafka.outbox import Outbox

S = TypeVar("S", bound=Subject)


def with_checked_code(subject: S) -> S:
    """Compact and classify the subject's credit code; an invalid code stays as evidence only."""
    check = check_code(subject.credit_code)
    code = check.code if check else None
    return subject.model_copy(update={"credit_code": code, "credit_code_status": code_status(check)})


def signal_from(incoming: SignalIn, raw_hash: str) -> SignalV2:
    return SignalV2(
        signal_id=signal_id(incoming.feed, incoming.kind.value, raw_hash),
        feed=incoming.feed,
        kind=incoming.kind,
        subject=with_checked_code(incoming.subject),
        parties=[with_checked_code(p) for p in incoming.parties],
        product=incoming.product,
        detail=incoming.detail,
        published_on=incoming.published_on,
        source_url=incoming.source_url,
        raw_record_ref=raw_hash,
    )


async def accept(session: AsyncSession, outbox: Outbox, signal: SignalV2, raw: dict[str, object]) -> bool:
    """Store and queue one signal for publishing; False when it was already accepted before."""
    assert signal.raw_record_ref is not None
    await repository.keep_raw(session, signal.raw_record_ref, signal.feed, signal.kind.value, raw)
    if not await repository.add_signal(session, signal):
        return False
    # A correction goes on v3 (v2 has no such kind); every other signal stays on v2.
    v3 = signal.kind in V3_ONLY_KINDS
    payload = SignalReceivedV3(**signal.model_dump()) if v3 else SignalReceivedV2(**signal.model_dump())
    await outbox.add(
        session,
        Topic.SIGNAL_RECEIVED_V3 if v3 else Topic.SIGNAL_RECEIVED_V2,
        signal.subject_key,
        payload,
        event_id=deterministic_id("signal-received", signal.signal_id),
    )
    return True


async def accept_posted(session: AsyncSession, outbox: Outbox, incoming: SignalIn) -> tuple[SignalV2, bool]:
    """A signal posted over HTTP or the CLI: returns it and whether it was new."""
    # Parties only when given: a body posted before v2 keeps its content hash, and so its signal id.
    raw = incoming.model_dump(mode="json", exclude={"parties"} if not incoming.parties else None)
    signal = signal_from(incoming, content_hash(raw))
    return signal, await accept(session, outbox, signal, raw)


async def get(session: AsyncSession, signal_id: uuid.UUID) -> SignalV3:
    row = await repository.get_signal(session, signal_id)
    if row is None:
        raise NotFound(f"no signal {signal_id}")
    return SignalV3.model_validate(row.payload)  # reads every v2 signal too, and a correction
