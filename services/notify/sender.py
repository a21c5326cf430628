"""The delivery sender: sends what the consumers recorded, after their commit, and records how it went.

The consumers only write a `queued` row per message (services/notify/service.py), in their own transaction.
This background task, in every replica:

1. claims due rows with one statement (`FOR UPDATE SKIP LOCKED`, so replicas take different rows), each
   for a lease of `send_lease_seconds`, as many as it has free slots (`send_concurrency`);
2. sends each with no transaction open, over pooled SMTP connections or the one HTTP client, retrying
   transient failures (tenacity), the idempotency key (the row's id) in the Message-ID and
   X-Certwatch-Idempotency-Key of an email and the Idempotency-Key of a text;
3. marks it `delivered` or `failed` as soon as its send returns, one row at a time, with one statement that
   also queues NotificationDelivered / NotificationFailed in the outbox (both or neither), and forgets the
   recipient's address.

The one window no protocol closes: the mail server (or SMS gateway) has accepted a message, and its sender
dies (kill -9, power, a lost network) before the mark reaches PostgreSQL. The row is still `queued` under
a claim that lapses, so after the lease it is sent once more, with the same idempotency key, which a
receiver or gateway that honours the key drops. The delivery log and the published events still count it
once: the mark is conditional on the claim, and the event's id is derived from the row's. The window is
kept to what the protocol needs: the server's reply, then one statement, autocommitted, on a connection
checked out with no round trip (a mark that has reached PostgreSQL counts even if its sender dies while it
runs). A database outage at that moment is waited out for up to a quarter of the lease rather than left to
lapse, and a send gives up after half the lease, so a live sender's claim never lapses under it.
bench/bench_notify.py measures the window with kill -9; tests/integration/test_notify_delivery_outbox.py
forces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import create_async_engine
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential, wait_random

from services.notify import repository
from services.notify.channels import Channel, DeliveryError, send_with_retries
from services.notify.repository import Mark
from services.notify.settings import NotifySettings
from services.notify.templates import Rendered
from shared.contracts import Topic, deterministic_id
from shared.contracts.notify import Channel as ChannelName
from shared.contracts.notify import NotificationDelivered, NotificationFailed
from shared.kafka.outbox import Outbox
from shared.logging import correlation_id
from shared.observability import BACKGROUND, DELIVERIES_QUEUED, DELIVERY_OLDEST_SECONDS

log = logging.getLogger(__name__)
BACKLOG_SECONDS = 15.0  # how often the backlog gauges are refreshed
NOT_TRANSIENT = (IntegrityError, ProgrammingError, DataError)  # waiting does not fix these


@dataclass(frozen=True)
class Claimed:
    """A queued message this sender holds until its lease ends."""

    id: uuid.UUID
    claim: uuid.UUID
    organisation_id: uuid.UUID
    risk_event_id: uuid.UUID | None
    channel: str
    recipient: str | None
    recipient_masked: str
    template: str
    subject: str | None
    body: str | None
    caused_by: uuid.UUID | None
    correlation_id: str | None  # of the event that queued it: its outcome and log lines carry it on
    deferred: bool  # held back by quiet hours


class Sender:
    """Claims, sends and marks queued messages (see the module's docstring for the guarantees)."""

    def __init__(
        self,
        settings: NotifySettings,
        outbox: Outbox,
        channels: dict[str, Channel],
        published: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.channels = channels
        self.published = published  # wakes the outbox relay after a mark
        self.lease = timedelta(seconds=settings.send_lease_seconds)
        self.wakeup = asyncio.Event()  # set after a consumer commits: something may be due
        # Claims and marks are single statements, autocommitted (no BEGIN and COMMIT round trips), on
        # connections of the sender's own, checked out with no pre-ping (three round trips with asyncpg):
        # a broken one fails its statement, which is tried again on a new one.
        self.engine = create_async_engine(
            settings.sqlalchemy_url,
            pool_size=settings.send_concurrency + 1,
            max_overflow=0,
            isolation_level="AUTOCOMMIT",
            connect_args={"server_settings": {"search_path": settings.database_schema}},
        )

    async def send_due(self, now: datetime | None = None) -> int:
        """Send everything due by `now` (the database's clock by default), `send_concurrency` at a time;
        returns how many were delivered. One pass: the background loop is `run`."""
        started: list[asyncio.Task[str]] = []
        in_flight: set[asyncio.Task[str]] = set()
        while True:
            started += await self._start(in_flight, self.settings.send_concurrency - len(in_flight), now)
            if not in_flight:
                return sum(task.result() == "delivered" for task in started)
            await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)

    async def claim(self, limit: int, now: datetime | None = None) -> list[Claimed]:
        token = uuid.uuid4()
        async with self.engine.connect() as conn:
            rows = await repository.claim(conn, token, limit, self.lease, now)
        return [Claimed(claim=token, **row) for row in rows]

    async def _start(
        self, in_flight: set[asyncio.Task[str]], free: int, now: datetime | None = None
    ) -> list[asyncio.Task[str]]:
        """Claim up to `free` messages and start delivering each (in `in_flight` until done)."""
        claimed = await self.claim(free, now) if free > 0 else []
        tasks = [asyncio.create_task(self.deliver(m), name=f"notify:deliver:{m.id}") for m in claimed]
        for task in tasks:
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        return tasks

    async def deliver(self, message: Claimed) -> str:
        """Send one claimed message, then mark it at once; returns how it went."""
        correlation_id.set(message.correlation_id)  # this task's own context
        outcome = await self._send(message)
        await self._mark(message, outcome)
        if message.deferred:
            BACKGROUND.labels("notify", "deferred_text", outcome.status).inc()
        return outcome.status

    async def _send(self, message: Claimed) -> Mark:
        if message.recipient is None:
            return Mark("failed", 0, error="no recipient recorded")
        rendered = Rendered(subject=message.subject or "", body=message.body or "")
        try:
            provider_id, attempts = await send_with_retries(
                self.channels[message.channel], message.recipient, rendered, str(message.id), self.settings,
                message.recipient_masked, deadline=self.lease.total_seconds() / 2,
            )  # fmt: skip
        except DeliveryError as exc:
            return Mark("failed", exc.attempts, error=str(exc))
        return Mark("delivered", attempts, provider_id=provider_id)

    async def _mark(self, message: Claimed, outcome: Mark) -> None:
        retrying = AsyncRetrying(
            stop=stop_after_delay(self.lease.total_seconds() / 4),
            wait=wait_exponential(multiplier=0.1, max=5.0) + wait_random(0, 0.1),
            retry=retry_if_exception(_transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    marked = await self._record(message, outcome)
        except Exception:
            log.exception(
                "%s %s to %s was %s but could not be marked; it goes again after its lease",
                message.template, message.id, message.recipient_masked, outcome.status,
            )  # fmt: skip
            return
        if not marked:
            log.warning("%s %s: the claim lapsed before the mark; another sender has it", message.template, message.id)
            return
        self.published()
        log.info("%s %s to %s via %s: %s (%d attempt(s))", message.template, message.id,
                 message.recipient_masked, message.channel, outcome.status, outcome.attempts)  # fmt: skip

    async def _record(self, message: Claimed, outcome: Mark) -> bool:
        """The mark and its event, in one statement; False when the claim is no longer ours."""
        topic, payload = _event(message, outcome)
        event_id = deterministic_id(topic.value, message.id)
        envelope = self.outbox.envelope(topic, payload, event_id, message.caused_by)
        event = repository.OutboxRow(event_id, topic.value, str(message.organisation_id), envelope)
        async with self.engine.connect() as conn:
            return await repository.mark(conn, message.id, message.claim, outcome, self.outbox.table, event)

    async def run(self, stop: asyncio.Event) -> None:
        """Send until stopped: claim as many as there are free slots, then wait for a free slot, a commit
        (`wakeup`) or the next poll; on stop, finish the messages in hand and close the connections."""
        in_flight: set[asyncio.Task[str]] = set()
        gauges = asyncio.create_task(self._measure_backlog(stop), name="notify:backlog")
        try:
            while not stop.is_set():
                self.wakeup.clear()
                free = self.settings.send_concurrency - len(in_flight)
                try:
                    claimed = len(await self._start(in_flight, free))
                except Exception:
                    log.exception("claiming due messages failed; trying again at the next poll")
                    claimed = -1
                if in_flight and claimed == free:  # every slot busy: more may be due
                    await _wait_any(stop, *in_flight)
                else:
                    await _wait_any(stop, self.wakeup, timeout=self.settings.deliver_poll_seconds)
        finally:
            try:
                if in_flight:
                    await asyncio.wait(in_flight)
            finally:
                for task in (*in_flight, gauges):
                    task.cancel()
                await self.close()

    async def measure_backlog(self) -> dict[tuple[str, str], int]:
        """Set the backlog gauges from the table (what every replica sees); returns the counts by
        (channel, due | deferred)."""
        async with self.engine.connect() as conn:
            counts, oldest = await repository.backlog(conn)
        for channel in ChannelName:
            for state in ("due", "deferred"):
                DELIVERIES_QUEUED.labels(channel.value, state).set(counts.get((channel.value, state), 0))
            DELIVERY_OLDEST_SECONDS.labels(channel.value).set(oldest.get(channel.value, 0.0))
        return counts

    async def _measure_backlog(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.measure_backlog()
            except Exception as exc:  # an outage: the claims report it; the gauges keep their last values
                log.debug("measuring the delivery backlog failed: %s", exc)
            await _wait_any(stop, timeout=BACKLOG_SECONDS)

    async def close(self) -> None:
        for channel in self.channels.values():
            with contextlib.suppress(Exception):
                await channel.close()
        await self.engine.dispose()


def _transient(error: BaseException) -> bool:
    """A database error worth another try; never a cancellation, which tenacity would otherwise swallow."""
    return isinstance(error, Exception) and not isinstance(error, NOT_TRANSIENT)


def _event(message: Claimed, outcome: Mark) -> tuple[Topic, NotificationDelivered | NotificationFailed]:
    common: dict[str, Any] = {
        "notification_id": message.id, "organisation_id": message.organisation_id,
        "risk_event_id": message.risk_event_id, "channel": ChannelName(message.channel),
        "recipient_masked": message.recipient_masked, "template": message.template, "attempts": outcome.attempts,
    }  # fmt: skip
    now = datetime.now(UTC)
    if outcome.status == "delivered":
        return Topic.NOTIFICATION_DELIVERED, NotificationDelivered(**common, delivered_at=now)
    return Topic.NOTIFICATION_FAILED, NotificationFailed(**common, error=outcome.error or "", failed_at=now)


async def _wait_any(
    stop: asyncio.Event, *others: asyncio.Event | asyncio.Task[Any], timeout: float | None = None
) -> None:
    """Until `stop`, any of `others` (an event set, a task done), or `timeout`."""
    waiters = {asyncio.ensure_future(stop.wait())}
    waiters |= {asyncio.ensure_future(o.wait()) if isinstance(o, asyncio.Event) else o for o in others}
    _, pending = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for waiter in pending:
        if waiter not in others:
            waiter.cancel()
