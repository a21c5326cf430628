"""The delivery sender: sends what the consumers recorded, after their commit, and records how it went.

The consumers only write a `queued` row per message (services/notify/service.py), in their own transaction.
This background task, in every replica:

1. claims due rows per channel with one statement (`FOR UPDATE SKIP LOCKED`, so replicas take different
   rows), each for a lease of `send_lease_seconds`, in batches: a channel's lane holds its slots
   (`send_concurrency` for email, `sms_concurrency` for texts, apart so one never waits on the other) and
   a round more (its slots, at least 8, doubled by each full claim up to four times that), and claims again
   when it is down to half a round beyond its slots; a message that waited a quarter of its lease in hand is
   given back instead of sent;
2. sends each with no transaction open, over pooled SMTP connections (a rendered message's MIME bytes kept
   for its next contacts) or the one HTTP client (aiohttp; a kept-alive connection per text in flight), retrying
   transient failures (tenacity) until half the lease from the claim, the idempotency key (the row's id) in
   the Message-ID and X-Certwatch-Idempotency-Key of an email and the Idempotency-Key of a text;
3. marks outcomes `delivered` or `failed` in batches: one statement marks up to `mark_batch_rows` rows, each
   only under its own claim, queues their NotificationDelivered / NotificationFailed in the outbox (for each
   row both or neither), and forgets the recipients' addresses. A batch goes when it is full, when its
   first outcome has waited `mark_linger_seconds` (50 ms), or at once when no send is under way and none is
   waiting for a slot.

The one window no protocol closes: the mail server (or SMS gateway) has accepted a message, and its sender
dies (kill -9, power, a lost network) before the mark reaches PostgreSQL. The row is still `queued` under
a claim that lapses, so after the lease it is sent once more, with the same idempotency key, which a
receiver or gateway that honours the key drops. The delivery log and the published events still count it
once: the mark is conditional on the claim, and the event's id is derived from the row's. The window is
the server's reply, the wait for the batch (at most `mark_linger_seconds` while other sends are under way,
none when idle) and one autocommitted statement on a connection checked out with no round trip (a mark
that has reached PostgreSQL counts even if its sender dies while it runs); a kill can catch every message
of a batch in it, not just the messages in flight. A database outage at that moment is waited out until
three quarters of the lease from the claim rather than left to lapse (a batch the database refuses for one
row's sake is marked row by row), so a live sender's claim never lapses under it.
bench/bench_notify.py measures the window, per message and under kill -9;
tests/integration/test_notify_delivery_outbox.py and test_notify_batched_marks.py force it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
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
    claimed_at: float = 0.0  # time.monotonic() when the claim was asked for: its lease runs from before then


@dataclass
class Lane:
    """One channel's messages in this sender's hands: claimed and waiting for a slot, or being sent."""

    channel: str
    concurrency: int
    waiting: deque[Claimed] = field(default_factory=deque)
    in_flight: set[asyncio.Task[str]] = field(default_factory=set)
    claiming: asyncio.Task[int] | None = None
    dry: bool = False  # its last claim found fewer than it asked for: nothing more is due until a wakeup or poll
    round_size: int = 0  # how many it claims beyond its slots (see `wants`)

    def __post_init__(self) -> None:
        self.round_size = self.least

    @property
    def least(self) -> int:
        return max(self.concurrency, 8)

    def claimed(self, asked: int, got: int) -> None:
        """A claim came back: a full one doubles the round (up to four times the least), a short one makes
        the lane dry and its round the least again."""
        self.dry = got < asked
        self.round_size = self.least if self.dry else min(self.round_size * 2, self.least * 4)

    @property
    def held(self) -> int:
        return len(self.waiting) + len(self.in_flight)

    def wants(self) -> int:
        """How many to claim now: none while it holds more than half a round beyond its slots, else up to its
        slots and a round, so a claim is one statement per half a round of messages or more, and a claimed
        message waits about a round for its slot at most. The round starts at its concurrency (at least 8),
        so replicas share a small backlog, and doubles with each full claim up to four times that: a claim
        per 4-8 messages of a large backlog cost as much as the sends (the statement's building and round
        trip)."""
        if self.claiming is not None or self.dry or self.held > self.concurrency + self.round_size // 2:
            return 0
        return self.concurrency + self.round_size - self.held


@dataclass(frozen=True)
class Unmarked:
    """A sent (or failed) message waiting for its mark, with its event, made in the message's context."""

    message: Claimed
    outcome: Mark
    event: repository.OutboxRow


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
        # Emails and texts apart: each channel its own slots, so a slow mail server never holds texts back.
        self.lanes = [
            Lane(name, settings.sms_concurrency if name == ChannelName.SMS.value else settings.send_concurrency)
            for name in channels
        ]
        self._unmarked: list[Unmarked] = []  # sent, not yet marked: the window (see the module's docstring)
        self._marker: asyncio.Task[None] | None = None
        self._more = asyncio.Event()  # an outcome to mark, or a send ended
        self._sending = 0  # sends under way (their outcomes are still to come)
        self._releases: set[asyncio.Task[None]] = set()
        # Claims and marks are single statements, autocommitted (no BEGIN and COMMIT round trips), on
        # connections of the sender's own, checked out with no pre-ping (three round trips with asyncpg):
        # a broken one fails its statement, which is tried again on a new one. One claim per lane at a
        # time, one mark statement at a time, the backlog gauges and releases.
        self.engine = create_async_engine(
            settings.sqlalchemy_url,
            pool_size=len(self.lanes) + 3,
            max_overflow=2,
            isolation_level="AUTOCOMMIT",
            connect_args={"server_settings": {"search_path": settings.database_schema}},
        )

    async def send_due(self, now: datetime | None = None) -> int:
        """Send everything due by `now` (the database's clock by default), each channel `send_concurrency`
        (`sms_concurrency`) at a time, and mark it; returns how many were delivered. One pass: the
        background loop is `run`."""
        for lane in self.lanes:
            lane.dry = False
        started = await self._pump(None, now)
        await self._marks_done()
        return sum(task.result() == "delivered" for task in started if not task.cancelled() and not task.exception())

    async def claim(self, limit: int, now: datetime | None = None, channel: str | None = None) -> list[Claimed]:
        token, asked = uuid.uuid4(), time.monotonic()
        async with self.engine.connect() as conn:
            rows = await repository.claim(conn, token, limit, self.lease, now, channel)
        return [Claimed(claim=token, claimed_at=asked, **row) for row in rows]

    async def _pump(self, stop: asyncio.Event | None, now: datetime | None = None) -> list[asyncio.Task[str]]:
        """Claim for each lane (a batch, when its hands are getting empty), start its waiting messages in
        its free slots, and wait for a send or a claim to end. With `stop` (the service): until it is set,
        looking again on a wakeup or each `deliver_poll_seconds`; without (one pass): until every lane's
        claim comes back short and nothing is in hand. Returns the sends it started."""
        started: list[asyncio.Task[str]] = []
        polled = time.monotonic()
        while stop is None or not stop.is_set():
            for lane in self.lanes:
                if (limit := lane.wants()) > 0:
                    lane.claiming = asyncio.create_task(self._claim_into(lane, limit, now), name="notify:claim")
                started += self._dispatch(lane)
            busy: list[asyncio.Future[Any]] = [t for lane in self.lanes for t in lane.in_flight]
            busy += [lane.claiming for lane in self.lanes if lane.claiming is not None]
            if stop is None:
                if not busy:
                    return started
                await asyncio.wait(busy, return_when=asyncio.FIRST_COMPLETED)
            else:
                timeout = max(0.0, polled + self.settings.deliver_poll_seconds - time.monotonic())
                await _wait_any(stop, self.wakeup, *busy, timeout=timeout)
                if self.wakeup.is_set() or time.monotonic() >= polled + self.settings.deliver_poll_seconds:
                    self.wakeup.clear()
                    polled = time.monotonic()
                    for lane in self.lanes:
                        lane.dry = False
            for lane in self.lanes:
                if lane.claiming is not None and lane.claiming.done():
                    claiming, lane.claiming = lane.claiming, None
                    if (error := claiming.exception()) is not None:
                        if stop is None:
                            raise error
                        log.error(
                            "claiming due %s messages failed; trying again at the next poll: %r", lane.channel, error
                        )
                        lane.dry = True
        return started

    async def _claim_into(self, lane: Lane, limit: int, now: datetime | None) -> int:
        claimed = await self.claim(limit, now, lane.channel)
        lane.waiting.extend(claimed)
        lane.claimed(limit, len(claimed))
        return len(claimed)

    def _dispatch(self, lane: Lane) -> list[asyncio.Task[str]]:
        """Start the lane's waiting messages in its free slots; one that waited a quarter of its lease is
        given back instead (sent, it could no longer be marked before its lease lapses)."""
        tasks, stale = [], []
        while lane.waiting and len(lane.in_flight) < lane.concurrency:
            message = lane.waiting.popleft()
            if time.monotonic() - message.claimed_at > self.lease.total_seconds() / 4:
                stale.append(message)
                continue
            task = asyncio.create_task(self.deliver(message), name=f"notify:deliver:{message.id}")
            lane.in_flight.add(task)
            task.add_done_callback(lane.in_flight.discard)
            tasks.append(task)
        if stale:
            self._release(stale)
        return tasks

    def _release(self, messages: list[Claimed]) -> None:
        task = asyncio.create_task(self._give_back(messages), name="notify:release")
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _give_back(self, messages: list[Claimed]) -> None:
        by_claim: dict[uuid.UUID, list[uuid.UUID]] = {}
        for message in messages:
            by_claim.setdefault(message.claim, []).append(message.id)
        try:
            async with self.engine.connect() as conn:
                for token, ids in by_claim.items():
                    await repository.release(conn, token, ids)
        except Exception as exc:  # they go again when their lease lapses
            log.warning("giving back %d claimed message(s) failed: %r", len(messages), exc)

    async def deliver(self, message: Claimed) -> str:
        """Send one claimed message, then hand its outcome to be marked (with others, within
        `mark_linger_seconds`); returns how it went."""
        correlation_id.set(message.correlation_id)  # this task's own context
        self._sending += 1
        try:
            outcome = await self._send(message)
        finally:
            self._sending -= 1
        self._to_mark(Unmarked(message, outcome, self._event_row(message, outcome)))
        return outcome.status

    async def _send(self, message: Claimed) -> Mark:
        if message.recipient is None:
            return Mark("failed", 0, error="no recipient recorded")
        rendered = Rendered(subject=message.subject or "", body=message.body or "")
        lease = self.lease.total_seconds()
        # Half the lease from the claim (at least a quarter: a message waits at most that long for its slot).
        deadline = max(lease / 4, message.claimed_at + lease / 2 - time.monotonic())
        try:
            provider_id, attempts = await send_with_retries(
                self.channels[message.channel],
                message.recipient,
                rendered,
                str(message.id),
                self.settings,
                message.recipient_masked,
                deadline=deadline,
            )
        except DeliveryError as exc:
            return Mark("failed", exc.attempts, error=str(exc))
        return Mark("delivered", attempts, provider_id=provider_id)

    def _event_row(self, message: Claimed, outcome: Mark) -> repository.OutboxRow:
        topic, payload = _event(message, outcome)
        event_id = deterministic_id(topic.value, message.id)
        envelope = self.outbox.envelope(topic, payload, event_id, message.caused_by)
        return repository.OutboxRow(event_id, topic.value, str(message.organisation_id), envelope)

    def _to_mark(self, unmarked: Unmarked) -> None:
        self._unmarked.append(unmarked)
        self._more.set()
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._mark_all(), name="notify:mark")

    async def _marks_done(self) -> None:
        while self._marker is not None and not self._marker.done():
            await asyncio.shield(self._marker)

    async def _mark_all(self) -> None:
        """Mark what was sent, `mark_batch_rows` at a time, one statement each: a batch goes when it is full,
        when its first outcome has waited `mark_linger_seconds`, or at once when no send is under way and none
        is waiting for a slot (no more outcomes are coming soon). Between two sends of one slot nothing is
        under way for a moment: marking then made a statement per message at concurrency 1."""
        limit, linger = self.settings.mark_batch_rows, self.settings.mark_linger_seconds
        first = time.monotonic()
        while self._unmarked:
            while len(self._unmarked) < limit and self._coming() and (left := first + linger - time.monotonic()) > 0:
                self._more.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(left):
                        await self._more.wait()
            batch, self._unmarked = self._unmarked[:limit], self._unmarked[limit:]
            first = time.monotonic()  # what came meanwhile has waited at most as long as this statement
            await self._mark(batch)

    def _coming(self) -> bool:
        """Whether more outcomes are coming soon: a send under way, or a claimed message waiting for its slot."""
        return self._sending > 0 or any(lane.waiting for lane in self.lanes)

    async def _mark(self, batch: list[Unmarked]) -> None:
        lease = self.lease.total_seconds()
        # Waited out for up to three quarters of the lease from the oldest claim, then left to go again.
        budget = max(0.0, min(u.message.claimed_at for u in batch) + lease * 3 / 4 - time.monotonic())
        retrying = AsyncRetrying(
            stop=stop_after_delay(budget),
            wait=wait_exponential(multiplier=0.1, max=5.0) + wait_random(0, 0.1),
            retry=retry_if_exception(_transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    marked = await self._record(batch)
        except Exception as exc:
            if len(batch) > 1 and not _transient(exc):  # one row the database refuses: mark the others
                for unmarked in batch:
                    await self._mark([unmarked])
                return
            for u in batch:
                correlation_id.set(u.message.correlation_id)
                log.error(
                    "%s %s to %s was %s but could not be marked; it goes again after its lease: %r",
                    u.message.template,
                    u.message.id,
                    u.message.recipient_masked,
                    u.outcome.status,
                    exc,
                )
            return
        if marked:
            self.published()
        for u in batch:
            message, outcome = u.message, u.outcome
            correlation_id.set(message.correlation_id)
            if message.id not in marked:
                log.warning(
                    "%s %s: the claim lapsed before the mark; another sender has it", message.template, message.id
                )
                continue
            if message.deferred:
                BACKGROUND.labels("notify", "deferred_text", outcome.status).inc()
            log.info(
                "%s %s to %s via %s: %s (%d attempt(s))",
                message.template,
                message.id,
                message.recipient_masked,
                message.channel,
                outcome.status,
                outcome.attempts,
            )

    async def _record(self, batch: list[Unmarked]) -> set[uuid.UUID]:
        """The marks and their events, in one statement; returns the ids whose claim was still ours."""
        outcomes = [repository.Outcome(u.message.id, u.message.claim, u.outcome, u.event) for u in batch]
        async with self.engine.connect() as conn:
            return await repository.mark_many(conn, outcomes, self.outbox.table)

    async def run(self, stop: asyncio.Event) -> None:
        """Send until stopped (see `_pump`); on stop, finish the messages being sent, mark them, give back
        the ones not started, and close the connections."""
        gauges = asyncio.create_task(self._measure_backlog(stop), name="notify:backlog")
        try:
            await self._pump(stop)
        finally:
            try:
                in_flight = [t for lane in self.lanes for t in lane.in_flight]
                if in_flight:
                    await asyncio.wait(in_flight)
                await self._marks_done()
                waiting = [m for lane in self.lanes for m in lane.waiting]
                for lane in self.lanes:
                    lane.waiting.clear()
                if waiting:
                    await self._give_back(waiting)
                if self._releases:
                    await asyncio.wait(set(self._releases))
            finally:
                for lane in self.lanes:
                    for task in (*lane.in_flight, *([lane.claiming] if lane.claiming else [])):
                        task.cancel()
                gauges.cancel()
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
        "notification_id": message.id,
        "organisation_id": message.organisation_id,
        "risk_event_id": message.risk_event_id,
        "channel": ChannelName(message.channel),
        "recipient_masked": message.recipient_masked,
        "template": message.template,
        "attempts": outcome.attempts,
    }
    now = datetime.now(UTC)
    if outcome.status == "delivered":
        return Topic.NOTIFICATION_DELIVERED, NotificationDelivered(**common, delivered_at=now)
    return Topic.NOTIFICATION_FAILED, NotificationFailed(**common, error=outcome.error or "", failed_at=now)


async def _wait_any(
    stop: asyncio.Event, *others: asyncio.Event | asyncio.Future[Any], timeout: float | None = None
) -> None:
    """Until `stop`, any of `others` (an event set, a task done), or `timeout`."""
    waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(stop.wait())}
    waiters |= {asyncio.ensure_future(o.wait()) if isinstance(o, asyncio.Event) else o for o in others}
    _, pending = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for waiter in pending:
        if waiter not in others:
            waiter.cancel()
