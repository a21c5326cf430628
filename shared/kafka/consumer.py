"""The consumer loop: commit offsets only after the database commit, skip events already processed,
retry with backoff a bounded number of times, then dead-letter the message and move on."""

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

from shared.contracts import Envelope, Topic
from shared.db.session import Database
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
        self.after_commit: Callable[[], None] = lambda: None

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
        while not stop.is_set():
            try:
                await self._consume(stop)
            except Exception:
                log.exception("consumer loop failed; reconnecting")
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
            await self.handle_record(record)
            # Commit after each record's database commit, so a crash re-delivers at most one.
            await self._kafka.commit({tp: record.offset + 1})
        highwater = self._kafka.highwater(tp)
        if highwater is not None:
            CONSUMER_LAG.labels(self.service, tp.topic).set(max(0, highwater - records[-1].offset - 1))

    async def handle_record(self, record: ConsumerRecord) -> str:
        """Process one record to an outcome: processed, duplicate, or dead_lettered."""
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
        MESSAGES.labels(self.service, topic, outcome).inc()
        MESSAGE_SECONDS.labels(self.service, topic).observe(time.perf_counter() - started)
        return outcome

    async def _process(self, record: ConsumerRecord, route: Route, envelope: Envelope[Any]) -> str:
        attempts = self.settings.consumer_max_attempts
        error = ""
        for attempt in range(1, attempts + 1):
            try:
                async with self.db.transaction() as session:
                    if not await self._claim(session, envelope, route.topic):
                        return "duplicate"
                    await route.handler(envelope, session)
                self.after_commit()
                return "processed"
            except Exception as exc:
                error = f"{type(exc).__name__}: {_short(exc)}"
                log.warning("handling %s failed (attempt %d/%d): %s", envelope.event_id, attempt, attempts, error)
                if attempt < attempts:
                    await asyncio.sleep(self.settings.consumer_backoff_seconds * 2 ** (attempt - 1))
        return await self._dead_letter(record, route.topic.value, error, attempts)

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
            except Exception:
                log.exception("could not write to the DLQ; retrying")
                await asyncio.sleep(1.0)

    def _logical(self, topic: str) -> str:
        prefix = self.platform.kafka_topic_prefix
        return topic[len(prefix) :] if prefix and topic.startswith(prefix) else topic


def _short(exc: Exception, limit: int = 500) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
