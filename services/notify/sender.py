"""The delivery sender: sends what the consumers recorded, after their commit, and records how it went.

The consumers only write a `queued` row per message (services/notify/service.py). This background task,
in every replica:

1. claims due rows in one short transaction (`FOR UPDATE SKIP LOCKED`, so replicas take different rows),
   each for a lease of `send_lease_seconds`, and as many as it has free slots (`send_concurrency`);
2. sends each with no transaction open, over pooled SMTP connections or the one HTTP client, retrying
   transient failures (tenacity), the idempotency key (the row's id) in the Message-ID and
   X-Certwatch-Idempotency-Key of an email and the Idempotency-Key of a text;
3. marks it `delivered` or `failed` in a short transaction of its own, right after its send returns, and
   queues NotificationDelivered / NotificationFailed in the outbox in that same transaction.

The one window no protocol closes: a message is sent, and its sender dies (kill -9, power, a lost
connection) before the mark commits. The row is still `queued` under a lapsed claim, so after the lease it
is sent once more, with the same idempotency key, which a receiver or gateway that honours the key drops.
The delivery log and the published events count it once: the mark is conditional on the claim, and the
event's id is derived from the row's. The window is kept to the mark itself (one row per transaction,
committed as soon as the send returns; a database outage at that moment is waited out for up to a quarter
of the lease rather than left to lapse), and a send gives up after half the lease, so a live sender's
claim never lapses under it. bench/bench_notify.py measures it with kill -9.
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
from tenacity import AsyncRetrying, retry_if_not_exception_type, stop_after_delay, wait_exponential, wait_random

from services.notify import repository
from services.notify.channels import Channel, DeliveryError, send_with_retries
from services.notify.settings import NotifySettings
from services.notify.templates import Rendered
from shared.contracts import Topic, deterministic_id
from shared.contracts.notify import Channel as ChannelName
from shared.contracts.notify import NotificationDelivered, NotificationFailed
from shared.db.session import Database
from shared.kafka.outbox import Outbox
from shared.observability import BACKGROUND

log = logging.getLogger(__name__)
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
    deferred: bool  # held back by quiet hours


@dataclass(frozen=True)
class Outcome:
    status: str  # delivered | failed
    attempts: int
    provider_id: str | None = None
    error: str | None = None


class Sender:
    """Claims, sends and marks queued messages (see the module's docstring for the guarantees)."""

    def __init__(
        self,
        settings: NotifySettings,
        db: Database,
        outbox: Outbox,
        channels: dict[str, Channel],
        published: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.outbox = outbox
        self.channels = channels
        self.published = published  # wakes the outbox relay after a mark
        self.lease = timedelta(seconds=settings.send_lease_seconds)
        self.wakeup = asyncio.Event()  # set after a consumer commits: something may be due

    async def send_due(self, now: datetime | None = None) -> int:
        """Claim everything due by `now` (the database's clock by default), `send_concurrency` at a time,
        and send it; returns how many were delivered. One pass: the background loop is `run`."""
        delivered = 0
        while claimed := await self.claim(self.settings.send_concurrency, now):
            outcomes = await asyncio.gather(*(self.deliver(message) for message in claimed))
            delivered += sum(status == "delivered" for status in outcomes)
        return delivered

    async def claim(self, limit: int, now: datetime | None = None) -> list[Claimed]:
        token = uuid.uuid4()
        async with self.db.transaction() as session:
            rows = await repository.claim(session, token, limit, self.lease, now)
        return [Claimed(claim=token, **row) for row in rows]

    async def deliver(self, message: Claimed) -> str:
        """Send one claimed message, then mark it at once; returns how it went."""
        outcome = await self._send(message)
        await self._mark(message, outcome)
        if message.deferred:
            BACKGROUND.labels("notify", "deferred_text", outcome.status).inc()
        return outcome.status

    async def _send(self, message: Claimed) -> Outcome:
        if message.recipient is None:
            return Outcome("failed", 0, error="no recipient recorded")
        rendered = Rendered(subject=message.subject or "", body=message.body or "")
        try:
            provider_id, attempts = await send_with_retries(
                self.channels[message.channel], message.recipient, rendered, str(message.id), self.settings,
                message.recipient_masked, deadline=self.lease.total_seconds() / 2,
            )  # fmt: skip
        except DeliveryError as exc:
            return Outcome("failed", exc.attempts, error=str(exc))
        return Outcome("delivered", attempts, provider_id=provider_id)

    async def _mark(self, message: Claimed, outcome: Outcome) -> None:
        retrying = AsyncRetrying(
            stop=stop_after_delay(self.lease.total_seconds() / 4),
            wait=wait_exponential(multiplier=0.1, max=5.0) + wait_random(0, 0.1),
            retry=retry_if_not_exception_type(NOT_TRANSIENT),
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

    async def _record(self, message: Claimed, outcome: Outcome) -> bool:
        """The mark and its event, in one short transaction; False when the claim is no longer ours."""
        async with self.db.transaction() as session:
            if not await repository.mark(session, message.id, message.claim, outcome.status, outcome.attempts,
                                         outcome.provider_id, outcome.error):  # fmt: skip
                return False
            topic, payload = _event(message, outcome)
            await self.outbox.add(
                session, topic, str(message.organisation_id), payload,
                event_id=deterministic_id(topic.value, message.id), causation_id=message.caused_by,
            )  # fmt: skip
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Send until stopped: claim as many as there are free slots, then wait for a free slot, a commit
        (`wakeup`) or the next poll; on stop, finish the messages in hand and close the connections."""
        in_flight: set[asyncio.Task[str]] = set()
        try:
            while not stop.is_set():
                self.wakeup.clear()
                free = self.settings.send_concurrency - len(in_flight)
                claimed = await self._claim_or_log(free) if free else []
                for message in claimed:
                    task = asyncio.create_task(self.deliver(message), name=f"notify:deliver:{message.id}")
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if in_flight and len(claimed) == free:  # every slot busy: more may be due
                    await _wait_any(stop, *in_flight)
                else:
                    await _wait_any(stop, self.wakeup, timeout=self.settings.deliver_poll_seconds)
        finally:
            try:
                if in_flight:
                    await asyncio.wait(in_flight)
            finally:
                for task in in_flight:
                    task.cancel()
                await self.close()

    async def _claim_or_log(self, limit: int) -> list[Claimed]:
        try:
            return await self.claim(limit)
        except Exception:
            log.exception("claiming due messages failed; trying again in %s s", self.settings.deliver_poll_seconds)
            return []

    async def close(self) -> None:
        for channel in self.channels.values():
            with contextlib.suppress(Exception):
                await channel.close()


def _event(message: Claimed, outcome: Outcome) -> tuple[Topic, NotificationDelivered | NotificationFailed]:
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
