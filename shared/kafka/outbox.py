"""Transactional outbox: events are written with the work, and published by a relay after commit."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, Table, Text, cast, func, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from shared.contracts import Envelope, Topic
from shared.db.session import Database
from shared.kafka.faults import Stall, describe, is_transient
from shared.kafka.producer import Producer
from shared.logging import correlation_id
from shared.observability import OUTBOX_PENDING, OUTBOX_PUBLISHED
from shared.waiting import sleep_unless

log = logging.getLogger(__name__)


_QUEUED = "certwatch.outbox_queued"  # set in a session's `info` when its transaction queued events


def outbox_written(info: Mapping[Any, Any]) -> bool:
    """Whether the transaction whose session had this `info` queued events (so the relay has work)."""
    return bool(info.get(_QUEUED))


_ENVELOPES: dict[type[BaseModel], type[Envelope[Any]]] = {}


def _envelope_class(payload: type[BaseModel]) -> type[Envelope[Any]]:
    """`Envelope` parametrised with the payload's concrete class (`Envelope[BaseModel]` would serialise the payload
    as {}), made once per class: pydantic's own cache of parametrised classes holds them weakly, and in a service
    each was made anew (~5 % of rules' samples, py-spy)."""
    made = _ENVELOPES.get(payload)
    if made is None:
        made = _ENVELOPES[payload] = Envelope[payload]  # type: ignore[valid-type]
    return made


class _NoPayload(BaseModel):
    """Stands in for the payloads of a batch whose envelope header is made once."""


class Outbox:
    """Adds events to the outbox inside the caller's transaction."""

    def __init__(self, table: Table, producer_name: str) -> None:
        self.table = table
        self.producer_name = producer_name

    def envelope(
        self, topic: Topic, payload: BaseModel, event_id: uuid.UUID, causation_id: uuid.UUID | None = None
    ) -> dict[str, Any]:
        """The envelope as stored and sent; the correlation id is the one of the work in hand."""
        # Validated, not model_construct: pydantic's validation (the payload instance is not validated again) took
        # ~18 µs an envelope here, model_construct ~50 µs (a Python loop over the fields and their defaults).
        envelope = _envelope_class(type(payload))(
            event_id=event_id,
            event_type=topic.event_type,
            producer=self.producer_name,
            correlation_id=correlation_id.get(),
            causation_id=causation_id,
            payload=payload,
        )
        return dict(envelope.model_dump(mode="json"))

    def header(self, topic: Topic, causation_id: uuid.UUID | None = None) -> dict[str, Any]:
        """The envelope fields a batch of events shares: all but event_id and payload, as `envelope` makes them."""
        fields = self.envelope(topic, _NoPayload(), uuid.UUID(int=0), causation_id)
        del fields["event_id"], fields["payload"]
        return fields

    async def add_from(self, session: AsyncSession, topic: Topic, rows: Select[Any]) -> int:
        """Queue one event per row of `rows`, whose columns are (event_id, key, payload), in one
        INSERT … SELECT: the payloads are copied inside the database, never decoded and re-encoded here
        (feed runs release tens of thousands of stored signals)."""
        batch = rows.subquery()
        event_id, key, payload = batch.c
        envelope = literal(self.header(topic), JSONB).op("||", return_type=JSONB)(
            func.jsonb_build_object("event_id", event_id, "payload", payload)
        )
        stmt = (
            insert(self.table)
            .from_select(
                ["event_id", "topic", "key", "envelope"], select(event_id, literal(topic.value), key, envelope)
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(self.table.c.event_id)
        )
        added = len((await session.execute(stmt)).all())
        if added:
            session.info[_QUEUED] = True
        return added

    async def add(
        self,
        session: AsyncSession,
        topic: Topic,
        key: str,
        payload: BaseModel,
        *,
        event_id: uuid.UUID,
        causation_id: uuid.UUID | None = None,
    ) -> bool:
        """Queue one event; False when an event with this id is already queued (a replay)."""
        envelope = self.envelope(topic, payload, event_id, causation_id)
        stmt = (
            insert(self.table)
            .values(event_id=event_id, topic=topic.value, key=key, envelope=envelope)
            .on_conflict_do_nothing(index_elements=["event_id"])
        )
        result = await session.execute(stmt)
        added = bool(result.rowcount)  # type: ignore[attr-defined]
        if added:
            session.info[_QUEUED] = True
        return added

    async def add_many(self, session: AsyncSession, rows: list[dict[str, Any]]) -> int:
        """Queue these events in one statement, in this order: each row's event_id, topic (its value), key and
        envelope (as `envelope` makes it). Returns how many were new (an id already queued is a replay)."""
        if not rows:
            return 0
        stmt = insert(self.table).on_conflict_do_nothing(index_elements=["event_id"]).returning(self.table.c.event_id)
        added = len((await session.execute(stmt, rows)).all())
        if added:
            session.info[_QUEUED] = True
        return added


class OutboxRelay:
    """Publishes committed outbox rows in order, then marks them published. Rows are kept after that
    (`published_at` set): `certwatch kafka republish` sends them again after the broker lost them."""

    def __init__(
        self,
        db: Database,
        producer: Producer,
        table: Table,
        service: str,
        poll_seconds: float,
        max_backoff_seconds: float = 5.0,
    ) -> None:
        self.db = db
        self.producer = producer
        self.table = table
        self.service = service
        self.poll_seconds = poll_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.wakeup = asyncio.Event()
        self.stall = Stall(f"{service} outbox relay")

    async def publish_pending(self, batch_size: int = 500) -> int:
        """One pass: lock a batch (SKIP LOCKED lets relays run in several replicas), send, mark."""
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    # As text: PostgreSQL's JSON rendering goes to the broker as it is, no decode and re-encode.
                    select(
                        self.table.c.id,
                        self.table.c.topic,
                        self.table.c.key,
                        cast(self.table.c.envelope, Text).label("envelope"),
                    )
                    .where(self.table.c.published_at.is_(None))
                    .order_by(self.table.c.id)
                    .limit(batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            await self.producer.send_many([(r.topic, r.key, r.envelope.encode()) for r in rows])
            await session.execute(
                update(self.table).where(self.table.c.id.in_([r.id for r in rows])).values(published_at=func.now())
            )
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until stopped. A database or broker outage is waited out (capped backoff, not ready
        meanwhile) and never ends the loop; what was not marked published is sent again after it."""
        counted = 0.0
        while not stop.is_set():
            self.wakeup.clear()  # before draining: a commit during the drain wakes the next round
            if await self._drain(stop) and time.monotonic() - counted > 10:  # the gauge needs no more
                counted = time.monotonic()
                try:
                    await self._record_pending()
                except Exception as exc:
                    log.warning("could not count the outbox backlog: %s", describe(exc))
            await sleep_unless(stop, self.poll_seconds, self.wakeup)

    async def _drain(self, stop: asyncio.Event) -> bool:
        """Publish until nothing is pending, trying again through an outage; False when stopped first."""

        async def nap(seconds: float) -> None:
            await sleep_unless(stop, seconds)

        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(Exception),
                stop=lambda _: stop.is_set(),
                wait=wait_exponential_jitter(
                    multiplier=self.poll_seconds, max=self.max_backoff_seconds, jitter=self.poll_seconds
                ),
                sleep=nap,
                before_sleep=self._failed,
                reraise=True,
            ):
                with attempt:
                    while await self.publish_pending():
                        pass
        except Exception as exc:
            log.warning("%s outbox relay stopping while it cannot publish: %s", self.service, describe(exc))
            return False
        waited = self.stall.cleared()
        if waited is not None:
            log.warning("%s outbox relay: the outage is over after %.1f s; publishing again", self.service, waited)
        return True

    def _failed(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if exc is None:
            return
        self.stall.stuck(describe(exc))
        wait = state.next_action.sleep if state.next_action else 0.0
        # An outage is expected and logged in one line; anything else keeps its traceback.
        log.warning(
            "outbox relay pass failed (try %d, again in %.1f s): %s",
            state.attempt_number,
            wait,
            describe(exc),
            exc_info=None if is_transient(exc) else exc,
        )

    async def _record_pending(self) -> None:
        async with self.db.sessions() as session:
            pending = await session.scalar(
                select(func.count()).select_from(self.table).where(self.table.c.published_at.is_(None))
            )
        OUTBOX_PENDING.labels(self.service).set(pending or 0)
