"""The consumer loop: commit offsets only after the database commit, skip events already processed.

Records are handled in batches, one per partition of what `getmany` hands over (up to
`consumer_batch_size` each; up to `consumer_concurrency` partitions' batches side by side, each partition's in
offset order): every record is decoded, all event ids are claimed in the inbox with one statement
(those seen before are skipped), the handlers run for the claimed ones in that same transaction (a topic's
batch handler, `handles_batch`, gets them all at once; a per-record handler, `handles`, one after the other),
one COMMIT, then one offset commit for the partition. Undecodable records are dead-lettered after that
commit, before the offsets move past them.

A failure is classified (shared/kafka/faults.py). An outage (the database unreachable or restarting, the
broker unreachable) holds the partition: the same batch is tried again without limit, with capped
exponential backoff, and the service reports itself not ready until it goes through. Any other failure of a
batch rolls it back, and that batch is handled again one record at a time, each in its own transaction:
bad content (an undecodable or invalid message, a `PermanentError`) goes to the DLQ at once; any other error
is tried `consumer_max_attempts` times (the batch's try counts as the first of the record whose handler
failed), then dead-lettered, and the partition moves on."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import BaseModel, ValidationError
from sqlalchemy import String, Table, Uuid, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from shared.contracts import PAYLOADS, Envelope, Topic
from shared.db.session import Database
from shared.kafka.faults import Stall, describe, is_permanent, is_transient
from shared.kafka.outbox import outbox_written
from shared.kafka.producer import Producer, client_options
from shared.logging import correlation_id
from shared.observability import CONSUMER_LAG, MESSAGE_SECONDS, MESSAGES
from shared.settings import PlatformSettings, ServiceSettings
from shared.waiting import sleep_unless

log = logging.getLogger(__name__)

Handler = Callable[[Any, AsyncSession], Awaitable[None]]
BatchHandler = Callable[[list[Any], AsyncSession], Awaitable[None]]
INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Route:
    topic: Topic
    envelope_model: type[Envelope[Any]]
    handler: Handler  # one record: the one-by-one path, and batches when there is no batch handler
    batch_handler: BatchHandler | None = None  # all claimed records of a batch, in offset order


class _Culprit:
    """Which record's handler was running when a batch failed (None: not one record's, e.g. the COMMIT)."""

    def __init__(self) -> None:
        self.event_id: uuid.UUID | None = None


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
        # INSERT … SELECT unnest(:ids), :topic … RETURNING: one statement (and one cached plan) per batch
        self._claim_all = (
            insert(inbox)
            .from_select(
                ["event_id", "topic"],
                select(func.unnest(bindparam("ids", type_=ARRAY(Uuid))), bindparam("topic", type_=String)),
            )
            .on_conflict_do_nothing()
            .returning(inbox.c.event_id)
        )
        self._kafka: AIOKafkaConsumer | None = None
        self._stop = asyncio.Event()  # run() replaces it with the runtime's
        # Called after every commit of a consumer transaction; `committed_info` is that session's `info`
        # then (the runtime wakes the outbox relay only when the transaction queued events).
        self.after_commit: Callable[[], None] = lambda: None
        self.committed_info: dict[Any, Any] = {}
        self.stall = Stall(f"{service} consumer")

    def handles(self, topic: Topic, model: type[BaseModel] | None = None) -> Callable[[Handler], Handler]:
        """Register `handler(envelope, session)` for a topic; its payload is the topic's model
        (`shared.contracts.PAYLOADS`, the one place that pairs them) unless a reader's own is given."""
        payload = model or PAYLOADS[topic]

        def register(handler: Handler) -> Handler:
            self.routes[topic.value] = Route(topic, Envelope[payload], handler)  # type: ignore[valid-type]
            return handler

        return register

    def handles_batch(
        self, topic: Topic, model: type[BaseModel] | None = None
    ) -> Callable[[BatchHandler], BatchHandler]:
        """Register `handler(envelopes, session)` for a topic (its model as for `handles`): it gets the claimed
        envelopes of a batch at once, in offset order, an envelope at most once (a redelivered one is
        skipped), inside the batch's transaction. It must do what a per-record handler would do for each in
        turn. When the batch is handled one by one (after a failure), it gets a list of one."""

        def register(handler: BatchHandler) -> BatchHandler:
            async def one(envelope: Any, session: AsyncSession) -> None:
                await handler([envelope], session)

            one.__name__ = getattr(handler, "__name__", "batch_handler")
            payload = model or PAYLOADS[topic]
            self.routes[topic.value] = Route(topic, Envelope[payload], one, handler)  # type: ignore[valid-type]
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
                await sleep_unless(stop, 2.0)

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
        size = max(1, self.settings.consumer_batch_size)
        lanes = max(1, self.settings.consumer_concurrency)
        try:
            while not stop.is_set():
                batch = await self._kafka.getmany(timeout_ms=500, max_records=size * lanes)
                await self._handle_partitions(batch, stop, lanes)
        finally:
            await self._kafka.stop()
            self._kafka = None

    async def _handle_partitions(
        self, batch: dict[TopicPartition, list[ConsumerRecord]], stop: asyncio.Event, lanes: int
    ) -> None:
        """Each partition's records in offset order, up to `lanes` partitions side by side: each in its own
        transactions, its offsets committed after its own database commits, so a batch waiting on a round
        trip no longer holds up the other partitions'."""

        async def lane(gate: asyncio.Semaphore, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
            async with gate:
                if not stop.is_set():  # not handled, not committed: delivered again to whoever takes the partition
                    await self._handle_partition(tp, records)

        if lanes == 1 or len(batch) == 1:
            for tp, records in batch.items():
                await lane(asyncio.Semaphore(1), tp, records)
            return
        gate = asyncio.Semaphore(lanes)
        try:
            async with asyncio.TaskGroup() as group:  # a failure cancels the other lanes (their work rolls back)
                for tp, records in batch.items():
                    group.create_task(lane(gate, tp, records))
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None  # the loop classifies and logs one error, as before

    async def _handle_partition(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        assert self._kafka is not None
        size = max(1, self.settings.consumer_batch_size)
        for start in range(0, len(records), size):
            chunk = records[start : start + size]
            if await self.handle_batch(tp, chunk) == INTERRUPTED:
                return  # stopped during an outage: nothing past the last handled record is committed
        highwater = self._kafka.highwater(tp)
        if highwater is not None:
            CONSUMER_LAG.labels(self.service, tp.topic).set(max(0, highwater - records[-1].offset - 1))

    async def handle_batch(self, tp: TopicPartition, records: list[ConsumerRecord]) -> str:
        """Handle records of one partition, in offset order, and commit their offsets after the database
        commit: in one transaction, or one by one when that fails for a reason other than an outage.
        INTERRUPTED when stopped during an outage (what was not handled is not committed)."""
        assert self._kafka is not None
        topic = self._logical(tp.topic)
        route = self.routes[topic]
        started = time.perf_counter()
        decoded: list[Envelope[Any]] = []
        undecodable: list[tuple[ConsumerRecord, str]] = []
        for record in records:
            try:
                decoded.append(route.envelope_model.model_validate_json(record.value))
            except (ValidationError, ValueError) as exc:
                undecodable.append((record, f"undecodable message: {_short(exc)}"))
        if len(decoded) <= 1:
            return await self._one_by_one(tp, records)  # nothing to gain from a batch
        culprit = _Culprit()
        try:
            outcomes = await self._retry_outages(lambda: self._apply_batch(route, decoded, culprit), "a batch")
        except Exception as exc:
            if self._stop.is_set() and is_transient(exc):
                log.warning("stopping with a batch of %d unhandled: %s", len(records), describe(exc))
                return INTERRUPTED
            log.warning(
                "a batch of %d from %s[%d]@%d failed; handling it one by one: %s",
                len(records),
                topic,
                tp.partition,
                records[0].offset,
                describe(exc),
                exc_info=not is_permanent(exc),
            )
            return await self._one_by_one(tp, records, {culprit.event_id: exc} if culprit.event_id is not None else {})
        for record, error in undecodable:  # on the DLQ before the offsets move past them
            outcomes.append(await self._dead_letter(record, topic, error, 0))
        await self._kafka.commit({tp: records[-1].offset + 1})
        self._recovered()
        share = (time.perf_counter() - started) / len(records)
        for outcome in outcomes:
            MESSAGES.labels(self.service, topic, outcome).inc()
            MESSAGE_SECONDS.labels(self.service, topic).observe(share)  # each message's share of the batch
        return "handled"

    async def _one_by_one(
        self, tp: TopicPartition, records: list[ConsumerRecord], tried: dict[uuid.UUID, BaseException] | None = None
    ) -> str:
        """Each record in its own transaction, its offset committed after it (a crash re-delivers at most one);
        `tried`: the event whose handler failed the batch, and how (that was its first try)."""
        assert self._kafka is not None
        tried = dict(tried or {})
        for record in records:
            if await self.handle_record(record, tried) == INTERRUPTED:
                return INTERRUPTED  # this record was not handled, so nothing past it is committed
            await self._kafka.commit({tp: record.offset + 1})
        return "handled"

    async def _apply_batch(self, route: Route, envelopes: list[Envelope[Any]], culprit: _Culprit) -> list[str]:
        """One try of a batch: claim every event id with one statement and run the handlers for the claimed
        ones, in one transaction. Returns each envelope's outcome (processed or duplicate)."""
        culprit.event_id = None
        async with self.db.transaction() as session:
            claimed = await self._claim_many(session, envelopes, route.topic)
            todo: list[Envelope[Any]] = []
            outcomes: list[str] = []
            for envelope in envelopes:
                if envelope.event_id in claimed:
                    claimed.discard(envelope.event_id)  # a second copy in the same batch is a duplicate
                    todo.append(envelope)
                    outcomes.append("processed")
                else:
                    outcomes.append("duplicate")
            if todo and route.batch_handler is not None:
                await route.batch_handler(todo, session)
            else:
                for envelope in todo:
                    culprit.event_id = envelope.event_id
                    token = correlation_id.set(envelope.correlation_id)
                    try:
                        await route.handler(envelope, session)
                    finally:
                        correlation_id.reset(token)
                culprit.event_id = None
            info = dict(session.info)
        self._committed(info)
        return outcomes

    async def _claim_many(self, session: AsyncSession, envelopes: list[Envelope[Any]], topic: Topic) -> set[uuid.UUID]:
        """Record the event ids in this transaction with one statement; returns those not processed before."""
        ids = list(dict.fromkeys(e.event_id for e in envelopes))
        result = await session.scalars(self._claim_all, {"ids": ids, "topic": topic.value})
        return set(result.all())

    def _committed(self, info: dict[Any, Any]) -> None:
        self.committed_info = info
        self.after_commit()

    def wrote_outbox(self) -> bool:
        """Whether the last committed consumer transaction queued events in the outbox."""
        return outbox_written(self.committed_info)

    async def handle_record(self, record: ConsumerRecord, tried: dict[uuid.UUID, BaseException] | None = None) -> str:
        """Process one record to an outcome: processed, duplicate, dead_lettered, or interrupted (the
        consumer was stopped while the record waited for an outage to end: it must be delivered again).
        An event in `tried` failed once already in a batch, with that error: it counts as its first try (taken
        out of `tried`, so a second copy of the event is tried afresh)."""
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
                earlier = tried.pop(envelope.event_id, None) if tried else None
                outcome = await self._process(record, route, envelope, earlier)
            finally:
                correlation_id.reset(token)
        if outcome != "interrupted":
            self._recovered()  # one message through (or parked) ends the outage for this consumer
        MESSAGES.labels(self.service, topic, outcome).inc()
        MESSAGE_SECONDS.labels(self.service, topic).observe(time.perf_counter() - started)
        return outcome

    async def _process(
        self, record: ConsumerRecord, route: Route, envelope: Envelope[Any], earlier: BaseException | None = None
    ) -> str:
        tries = _Tries(self.settings.consumer_max_attempts, self.stall)
        if earlier is not None and not tries.again(earlier):  # the batch's try was this record's first
            return await self._dead_letter(record, route.topic.value, describe(earlier), tries.counted)
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
            info = dict(session.info)
        self._committed(info)
        return "processed"

    async def _retry_outages(self, attempt_once: Callable[[], Awaitable[list[str]]], what: str) -> list[str]:
        """`attempt_once()` tried again without limit through an outage (not ready meanwhile) until it goes
        through, the consumer is stopped, or it fails otherwise (raised)."""

        def outage(exc: BaseException) -> bool:
            if is_transient(exc):
                self.stall.stuck(describe(exc))
                return True
            return False

        def logged(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "handling %s waits for an outage (try %d, again in %.1f s): %s",
                what,
                state.attempt_number,
                wait,
                describe(exc) if exc else "?",
            )

        async for attempt in AsyncRetrying(
            retry=retry_if_exception(outage),
            stop=lambda _: self._stop.is_set(),
            wait=wait_exponential_jitter(
                multiplier=self.settings.consumer_backoff_seconds,
                max=self.settings.consumer_backoff_max_seconds,
                jitter=self.settings.consumer_backoff_seconds,
            ),
            sleep=self._nap,
            before_sleep=logged,
            reraise=True,
        ):
            with attempt:
                return await attempt_once()
        raise AssertionError("unreachable: tenacity returns or raises")

    def _recovered(self) -> None:
        waited = self.stall.cleared()
        if waited is not None:
            log.warning("%s consumer: the outage is over after %.1f s; consuming again", self.service, waited)

    async def _nap(self, seconds: float) -> None:
        await sleep_unless(self._stop, seconds)

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
        log.warning(
            "handling %s waits for an outage (try %d, again in %.1f s): %s",
            event_id,
            state.attempt_number,
            wait,
            describe(exc),
        )
    else:
        reason = describe(exc) if exc is not None else "?"
        log.warning("handling %s failed (attempt %d/%d): %s", event_id, tries.counted, tries.limit, reason)


def _short(exc: Exception, limit: int = 500) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"
