"""The sender marks outcomes in batches (one statement marks many rows and queues their events, each row only
under its own claim): a sender that dies after its sends and before their batch's mark leaves them queued,
and after the lease each goes once more with the same key and is counted once; a batch mark that comes late,
after another sender has claimed its messages, changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from services.notify.sender import Sender, Unmarked
from tests.integration.test_notify_delivery_outbox import (
    DELIVERED,
    MailServer,
    address,
    database,
    deliveries,
    events_on,
    organisation,
    queue,
    raised_for,
    sender_for,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    server = MailServer()
    server.controller.start()
    try:
        yield server
    finally:
        server.controller.stop()


def never_marks(sender: Sender) -> list[Unmarked]:
    """The sender dies between its sends and their batch's mark: its outcomes never reach PostgreSQL."""
    held: list[Unmarked] = []
    sender._to_mark = held.append  # type: ignore[method-assign]
    return held


async def test_a_crash_before_the_batch_mark_resends_each_once_with_its_key_and_counts_once(
    service_settings, mail_server
) -> None:
    settings = service_settings("notify", smtp_port=mail_server.port, send_lease_seconds=1.0, mark_linger_seconds=1.0)
    addresses = [address() for _ in range(6)]
    org = organisation(*addresses)
    async with database(settings) as db:
        await queue(db, settings, org, raised_for(org))
        dead, alive = sender_for(settings), sender_for(settings)
        try:
            held = never_marks(dead)
            assert await dead.send_due() == 6  # all sent, in one batch waiting for its mark ...
            assert len(held) == 6 and {d.status for d in await deliveries(db)} == {"queued"}  # ... never marked
            assert await events_on(db, DELIVERED) == []

            await asyncio.sleep(1.2)  # the dead sender's claims lapse
            assert await alive.send_due() == 6  # each goes once more
            await dead._mark(held)  # the dead sender's batch, had it come late: its claims are no longer valid
        finally:
            await dead.close()
            await alive.close()

        for to in addresses:
            copies = mail_server.to(to)
            assert len(copies) == 2  # the window's one duplicate per message ...
            assert len({m["X-Certwatch-Idempotency-Key"] for m in copies}) == 1  # ... with its one key
        done = await deliveries(db)
        assert {d.status for d in done} == {"delivered"} and all(d.attempts == 1 for d in done)  # counted once
        sent = await events_on(db, DELIVERED)
        assert sorted(e["notification_id"] for e in sent) == sorted(str(d.id) for d in done)  # one event each


async def test_outcomes_are_marked_in_few_statements_each_under_its_claim(service_settings, mail_server) -> None:
    settings = service_settings(
        "notify", smtp_port=mail_server.port, send_concurrency=8, smtp_pool_size=4, mark_batch_rows=10
    )
    org = organisation(*(address() for _ in range(40)))
    async with database(settings) as db:
        await queue(db, settings, org, raised_for(org))
        sender = sender_for(settings)
        statements: list[int] = []
        record = sender._record

        async def counted(batch: list[Unmarked]) -> set:  # type: ignore[type-arg]
            statements.append(len(batch))
            return await record(batch)

        sender._record = counted  # type: ignore[method-assign]
        try:
            assert await sender.send_due() == 40
        finally:
            await sender.close()
        assert sum(statements) == 40 and max(statements) <= 10  # batches of at most mark_batch_rows
        assert len(statements) < 40  # not one statement per message
        assert {d.status for d in await deliveries(db)} == {"delivered"}
        assert len(await events_on(db, DELIVERED)) == 40
