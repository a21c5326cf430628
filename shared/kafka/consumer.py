"""The consumer loop: commit offsets only after the database commit, skip events already processed.

A failure is classified (shared/kafka/faults.py). An outage (the database unreachable or restarting, the
broker unreachable) holds the partition: the same message is tried again without limit, with capped
exponential backoff, and the service reports itself not ready until it goes through. Bad content (an
undecodable or invalid message, a `PermanentError`) goes to the DLQ at once; any other error is tried
`consumer_max_attempts` times, then dead-lettered, and the partition moves on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import BaseModel, ValidationError
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from shared.contracts import Envelope, Topic
from shared.db.session import Database
from shared.kafka.faults import Stall, describe, is_permanent, is_transient
from shared.kafka.producer import Producer, client_options
from shared.logging import correlation_id
from shared.observability import CONSUMER_LAG, MESSAGE_SECONDS, MESSAGES
from shared.settings import PlatformSettings, ServiceSettings

log = logging.getLogger(__name__)

Handler = Callable[[Any, AsyncSession], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    topic: Topic
    envelope_model: type[Envelope[Any]]
    handler: Handler


class Consumer:
    """Routes each topic to one handler; the handler's session is committed by this loop."""

    def __init__(
        self,
        service: str,
        platform: PlatformSettings,
        settings: ServiceSettings,
        db: Database,
        inbox: Table,
        producer: Producer,
    ) -> None:
        self.service = service
        self.platform = platform
        self.settings = settings
        self.db = db
        self.inbox = inbox
        self.producer = producer
        self.routes: dict[str, Route] = {}
        self._kafka: AIOKafkaConsumer | None = None
        self._stop = asyncio.Event()  # run() replaces it with the runtime's
        self.after_commit: Callable[[], None] = lambda: None
        self.stall = Stall(f"{service} consumer")

    def handles(self, topic: Topic, model: type[BaseModel]) -> Callable[[Handler], Handler]:
        """Register `handler(envelope, session)` for a topic whose payload is `model`."""

        def register(handler: Handler) -> Handler:
            self.routes[topic.value] = Route(topic, Envelope[model], handler)  # type: ignore[valid-type]
            return handler

        return register

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; broker errors are logged and retried, never fatal."""
        if not self.routes:
            return
        self._stop = stop
        while not stop.is_set():
            try:
                await self._consume(stop)
            except Exception as exc:
                log.warning("consumer loop failed; reconnecting: %s", describe(exc), exc_info=not is_transient(exc))
                self.stall.stuck(f"consumer loop: {describe(exc)}")
                await _sleep_unless(stop, 2.0)

    async def _consume(self, stop: asyncio.Event) -> None:
        self._kafka = AIOKafkaConsumer(
            *[self.platform.topic(t) for t in self.routes],
            group_id=self.settings.consumer_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=f"{self.service}-consumer",
            **client_options(self.platform),
        )
        await self._kafka.start()
        self.stall.cleared()
        try:
            while not stop.is_set():
                batch = await self._kafka.getmany(timeout_ms=500, max_records=200)
                for tp, records in batch.items():
                    await self._handle_partition(tp, records)
        finally:
            await self._kafka.stop()
            self._kafka = None

    async def _handle_partition(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        assert self._kafka is not None
        for record in records:
            if await self.handle_record(record) == "interrupted":
                return  # stopped during an outage: this record was not handled, so nothing past it is committed
            # Commit after each record's database commit, so a crash re-delivers at most one.
            await self._kafka.commit({tp: record.offset + 1})
        highwater = self._kafka.highwater(tp)
        if highwater is not None:
            CONSUMER_LAG.labels(self.service, tp.topic).set(max(0, highwater - records[-1].offset - 1))

    async def handle_record(self, record: ConsumerRecord) -> str:
        """Process one record to an outcome: processed, duplicate, dead_lettered, or interrupted (the
        consumer was stopped while the record waited for an outage to end: it must be delivered again)."""
        topic = self._logical(record.topic)
        route = self.routes[topic]
        started = time.perf_counter()
        try:
            envelope = route.envelope_model.model_validate_json(record.value)
        except (ValidationError, ValueError) as exc:
            outcome = await self._dead_letter(record, topic, f"undecodable message: {_short(exc)}", 0)
        else:
            token = correlation_id.set(envelope.correlation_id)
            try:
                outcome = await self._process(record, route, envelope)
            finally:
                correlation_id.reset(token)
        if outcome != "interrupted":
            self._recovered()  # one message through (or parked) ends the outage for this consumer
        MESSAGES.labels(self.service, topic, outcome).inc()
        MESSAGE_SECONDS.labels(self.service, topic).observe(time.perf_counter() - started)
        return outcome

    async def _process(self, record: ConsumerRecord, route: Route, envelope: Envelope[Any]) -> str:
        tries = _Tries(self.settings.consumer_max_attempts, self.stall)
        outcome = "processed"
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(tries.again),
                stop=lambda _: self._stop.is_set(),
                wait=wait_exponential_jitter(
                    multiplier=self.settings.consumer_backoff_seconds,
                    max=self.settings.consumer_backoff_max_seconds,
                    jitter=self.settings.consumer_backoff_seconds,
                ),
                sleep=self._nap,
                before_sleep=lambda state: _log_retry(state, envelope.event_id, tries),
                reraise=True,
            ):
                with attempt:
                    outcome = await self._apply(route, envelope)
        except Exception as exc:
            if self._stop.is_set() and tries.may_succeed(exc):
                log.warning("stopping with %s unhandled: %s", envelope.event_id, describe(exc))
                return "interrupted"
            outcome = await self._dead_letter(record, route.topic.value, describe(exc), tries.counted)
        return outcome

    async def _apply(self, route: Route, envelope: Envelope[Any]) -> str:
        """One try: claim the event id and run the handler in one transaction."""
        async with self.db.transaction() as session:
            if not await self._claim(session, envelope, route.topic):
                return "duplicate"
            await route.handler(envelope, session)
        self.after_commit()
        return "processed"

    def _recovered(self) -> None:
        waited = self.stall.cleared()
        if waited is not None:
            log.warning("%s consumer: the outage is over after %.1f s; consuming again", self.service, waited)

    async def _nap(self, seconds: float) -> None:
        await _sleep_unless(self._stop, seconds)

    async def _claim(self, session: AsyncSession, envelope: Envelope[Any], topic: Topic) -> bool:
        """Record the event id in this transaction; False when it was processed before."""
        stmt = insert(self.inbox).values(event_id=envelope.event_id, topic=topic.value).on_conflict_do_nothing()
        result = await session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _dead_letter(self, record: ConsumerRecord, topic: str, error: str, attempts: int) -> str:
        """Park the message on `<topic>.dlq` with why, where from and how often it was tried."""
        log.error("dead-lettering %s[%d]@%d: %s", topic, record.partition, record.offset, error)
        headers = [
            ("x-error", error.encode()),
            ("x-original-topic", topic.encode()),
            ("x-original-partition", str(record.partition).encode()),
            ("x-original-offset", str(record.offset).encode()),
            ("x-attempts", str(attempts).encode()),
            ("x-consumer-group", self.settings.consumer_group.encode()),
            ("x-failed-at", datetime.now(UTC).isoformat().encode()),
        ]
        key = record.key.decode(errors="replace") if record.key else ""
        while True:  # the message must land on the DLQ before its offset is committed
            try:
                await self.producer.send(f"{topic}.dlq", key, record.value or b"", headers)
                return "dead_lettered"
            except Exception as exc:
                log.warning("could not write to the DLQ; retrying: %s", describe(exc))
                self.stall.stuck(f"writing to {topic}.dlq: {describe(exc)}")
                await asyncio.sleep(1.0)

    def _logical(self, topic: str) -> str:
        prefix = self.platform.kafka_topic_prefix
        return topic[len(prefix) :] if prefix and topic.startswith(prefix) else topic


class _Tries:
    """Which failures of one message count towards the DLQ: an outage's never do, bad content's at once."""

    def __init__(self, limit: int, stall: Stall) -> None:
        self.limit = limit
        self.stall = stall
        self.counted = 0

    def again(self, exc: BaseException) -> bool:
        """Whether to try the message again after `exc`."""
        if is_permanent(exc):
            self.counted += 1
            return False
        if is_transient(exc):
            self.stall.stuck(describe(exc))
            return True
        self.counted += 1
        return self.counted < self.limit

    def may_succeed(self, exc: BaseException) -> bool:
        """Whether a later delivery could still handle it (so stopping must not dead-letter it)."""
        return not is_permanent(exc) and (is_transient(exc) or self.counted < self.limit)


def _log_retry(state: RetryCallState, event_id: object, tries: _Tries) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    if exc is not None and is_transient(exc):
        log.warning("handling %s waits for an outage (try %d, again in %.1f s): %s",
                    event_id, state.attempt_number, wait, describe(exc))  # fmt: skip
    else:
        reason = describe(exc) if exc is not None else "?"
        log.warning("handling %s failed (attempt %d/%d): %s", event_id, tries.counted, tries.limit, reason)


def _short(exc: Exception, limit: int = 500) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
