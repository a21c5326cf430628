"""notify records a batch of alerts set-based (issue 13 item 3), on real PostgreSQL: what a batch does is what
the same events one at a time would do. Alerts whose organisation's contacts have not arrived wait, and go
to the newest contacts once they come; an event twice in a batch, or again in a later batch, is one message
per contact and channel; each (organisation, event) has one link to its page."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from services.notify.models import Delivery, EventPage, OpenEvent, OrganisationContacts, OrganisationLink, PendingAlert
from services.notify.service import Notifier
from shared.contracts.rules import Contact, OrganisationUpdated
from shared.db.session import Database
from tests.support.events import risk_event_raised

pytestmark = pytest.mark.integration


def organisation(name: str, revision: int, email: str, organisation_id: uuid.UUID | None = None) -> OrganisationUpdated:
    return OrganisationUpdated(
        organisation_id=organisation_id or uuid.uuid4(), name=name, revision=revision, updated_at=datetime.now(UTC),
        contacts=[Contact(name="质量负责人", email=email, mobile="13900139000", channels=["email"])],
    )  # fmt: skip


async def rows(db: Database, model: type, *where: object) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def recipients(db: Database) -> dict[uuid.UUID, set[str]]:
    async with db.sessions() as session:
        found: dict[uuid.UUID, set[str]] = {}
        for delivery in (await session.scalars(select(Delivery))).all():
            found.setdefault(delivery.organisation_id, set()).add(delivery.recipient or "")
        return found


async def test_alerts_wait_for_contacts_then_go_to_the_newest_of_them(service_settings) -> None:
    settings = service_settings("notify")
    db = Database(settings)
    notifier = Notifier(settings)
    first = organisation("浙江宏远电器有限公司", 1, "old@hongyuan.example")
    newer = organisation(first.name, 2, "quality@hongyuan.example", first.organisation_id)
    other = organisation("宁波海天塑料制品有限公司", 1, "qa@haitian.example")
    silent = uuid.uuid4()  # an organisation whose contacts never come
    events = [
        risk_event_raised("产品监督抽查不合格", organisation_id=first.organisation_id, organisation_name=first.name),
        risk_event_raised("产品质量安全事故", organisation_id=first.organisation_id, organisation_name=first.name),
        risk_event_raised("列入严重违法失信名单", organisation_id=other.organisation_id, organisation_name=other.name),
        risk_event_raised("吊销许可证", organisation_id=silent, organisation_name="某某有限公司"),
    ]
    try:
        async with db.transaction() as session:
            queued = await notifier.risk_events_raised(session, [(e, uuid.uuid4(), "c-1") for e in events])
        assert queued == 0  # no contacts known yet: every alert waits
        assert await rows(db, PendingAlert) == 4

        # One batch: both revisions of the first organisation (the older last, as a late message), the other.
        async with db.transaction() as session:
            updates = [(newer, uuid.uuid4(), "c-2"), (other, uuid.uuid4(), "c-2"), (first, uuid.uuid4(), "c-2")]
            assert await notifier.organisations_updated(session, updates) == 3
        assert await recipients(db) == {
            first.organisation_id: {"quality@hongyuan.example"},  # the newest revision's, not the late one's
            other.organisation_id: {"qa@haitian.example"},
        }
        assert await rows(db, PendingAlert) == 1  # only the organisation whose contacts never came
        assert await rows(db, PendingAlert, PendingAlert.organisation_id == silent) == 1
        async with db.sessions() as session:
            kept = await session.get(OrganisationContacts, first.organisation_id)
            assert kept is not None and kept.revision == 2
            correlations = set((await session.scalars(select(Delivery.correlation_id))).all())
        assert correlations == {"c-2"}  # released alerts go on under the update's correlation id
    finally:
        await db.dispose()


async def test_an_event_twice_in_a_batch_or_again_later_is_one_message(service_settings) -> None:
    settings = service_settings("notify")
    db = Database(settings)
    notifier = Notifier(settings)
    org = organisation("江苏恒通线缆有限公司", 1, "qa@hengtong.example")
    event = risk_event_raised("产品监督抽查不合格", organisation_id=org.organisation_id, organisation_name=org.name)
    later = risk_event_raised("产品质量安全事故", organisation_id=org.organisation_id, organisation_name=org.name)
    try:
        async with db.transaction() as session:
            await notifier.organisations_updated(session, [(org, uuid.uuid4(), None)])
        async with db.transaction() as session:
            batch = [(event, uuid.uuid4(), None), (event, uuid.uuid4(), None), (later, uuid.uuid4(), None)]
            assert await notifier.risk_events_raised(session, batch) == 2
        async with db.transaction() as session:  # a redelivery of both: nothing recorded twice
            again = [(event, uuid.uuid4(), None), (later, uuid.uuid4(), None)]
            assert await notifier.risk_events_raised(session, again) == 0
        assert await rows(db, Delivery) == 2
        # One link per (organisation, event), issued once and found again.
        assert await rows(db, OrganisationLink, OrganisationLink.organisation_id == org.organisation_id) == 2
        async with db.transaction() as session:
            issued = await notifier.links.issue_many(
                session, [(org.organisation_id, event.risk_event_id), (org.organisation_id, event.risk_event_id)]
            )
            again_one = await notifier.links.issue(session, org.organisation_id, event.risk_event_id)
        assert list(issued.values()) == [again_one]
        assert await rows(db, OrganisationLink) == 2
    finally:
        await db.dispose()


async def test_the_digest_and_the_pages_keep_a_batch_once(service_settings) -> None:
    from services.notify import digest
    from services.notify.organisations import service as organisations

    settings = service_settings("notify")
    db = Database(settings)
    events = [risk_event_raised(f"事件{n}") for n in range(3)]
    try:
        for _ in range(2):  # the second time is a redelivery: nothing added, nothing fails
            async with db.transaction() as session:
                await digest.raised(session, events)
                await organisations.keep_raised(session, events)
        assert await rows(db, OpenEvent) == 3
        assert await rows(db, EventPage) == 3
        async with db.transaction() as session:
            await digest.raised(session, [])  # an empty batch writes nothing and does not fail
            await organisations.keep_raised(session, [])
    finally:
        await db.dispose()


async def test_an_alert_parked_while_its_contacts_are_saved_side_by_side_is_not_lost(service_settings) -> None:
    """Partitions (and replicas) are handled side by side: a batch parks an alert for an organisation whose
    contacts another batch is saving at that moment. Without the organisation's lock, the other batch looks for
    waiting alerts before the park is committed, finds none, and the alert waits for ever (the whole-flow bench
    lost 23 of 20,000 that way). With it, the second batch waits for the first and sends the alert."""
    settings = service_settings("notify")
    db = Database(settings)
    notifier = Notifier(settings)
    org = organisation("浙江宏远电器有限公司", 1, "quality@hongyuan.example")
    event = risk_event_raised("产品监督抽查不合格", organisation_id=org.organisation_id, organisation_name=org.name)
    try:
        async with db.transaction() as parking:
            assert await notifier.risk_events_raised(parking, [(event, uuid.uuid4(), None)]) == 0  # parked

            async def contacts_arrive() -> int:
                async with db.transaction() as session:
                    return await notifier.organisations_updated(session, [(org, uuid.uuid4(), None)])

            saving = asyncio.create_task(contacts_arrive())
            await asyncio.sleep(1.0)
            assert not saving.done()  # it waits for the parking batch's commit
        assert await saving == 1  # then finds the parked alert and records its message
        assert await rows(db, PendingAlert) == 0
        assert await rows(db, Delivery) == 1
    finally:
        await db.dispose()
