"""Alerting organisations about risk events: one message per event per contact per channel, recorded for the
sender in the consumer's transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import repository
from services.notify.models import OrganisationContacts
from services.notify.organisations import service as organisations
from services.notify.settings import NotifySettings
from services.notify.templates import measure_words, render, status_words
from shared.contracts import deterministic_id
from shared.contracts.rules import (
    CertificateStatusChanged,
    Contact,
    Measure,
    OrganisationUpdated,
    RiskEventRaised,
    RiskEventUpdated,
)
from shared.db import locks
from shared.logging import correlation_id, mask_email, mask_phone

log = logging.getLogger(__name__)
E = TypeVar("E")
TEMPLATE = "risk_event_raised"
# Decisions that ask something of the organisation (certificate measures are told as status changes).
ASKS_THE_ORGANISATION = frozenset({Measure.REQUEST_EXPLANATION, Measure.CORRECTIVE_ACTION, Measure.SPECIAL_AUDIT})


@dataclass(frozen=True)
class Queued:
    """An alert to every contact of an organisation, with the event that caused it and its correlation id."""

    contacts: list[dict[str, object]]
    alert: Alert
    caused_by: uuid.UUID
    correlation_id: str | None


# An event, the id of the message that carried it, and that message's correlation id.
Caused = tuple[E, uuid.UUID, str | None]


@dataclass(frozen=True)
class Alert:
    """One message to every contact of an organisation: `key` makes each (contact, channel) send once."""

    key: uuid.UUID
    organisation_id: uuid.UUID
    risk_event_id: uuid.UUID | None
    template: str
    context: Callable[[str], dict[str, object]]  # the template's values, in a contact's language


class Notifier:
    """The business calls of the consumers: each records the messages an event calls for, in the consumer's
    transaction, and returns how many it recorded; the sender (services/notify/sender.py) sends them after
    the commit."""

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        self.links = organisations.page_links(
            settings
        )  # every alert carries its signed link to the organisation's page

    async def organisations_updated(self, session: AsyncSession, events: list[Caused[OrganisationUpdated]]) -> int:
        """Keep the contacts (each organisation's newest revision); queue the alerts that were waiting for them."""
        rows = [
            {
                "organisation_id": e.organisation_id,
                "name": e.name,
                "revision": e.revision,
                "contacts": [c.model_dump() for c in e.contacts],
            }
            for e, _, _ in events
        ]
        await locks.hold(session, locks.LockSpace.ORGANISATION_ALERTS, (e.organisation_id for e, _, _ in events))
        await repository.save_contacts(session, rows)
        pending = await repository.take_pending(session, {e.organisation_id for e, _, _ in events})
        correlation = events[-1][2] if events else None  # the released alerts go on under the update's id
        released = [(RiskEventRaised.model_validate(p.event), p.caused_by, correlation) for p in pending]
        return await self.risk_events_raised(session, released)

    async def risk_events_raised(self, session: AsyncSession, events: list[Caused[RiskEventRaised]]) -> int:
        """Alert every contact of each event's organisation on each channel they accept; an event whose
        organisation's contacts have not arrived waits for them (`organisations_updated` sends it).

        Both hold the organisations' locks: batches run side by side (partitions, replicas), and without them
        an alert parked while its organisation's contacts were being saved by another batch, which looked
        for waiting alerts before the park was committed, would wait for ever."""
        organisations = {e.organisation_id for e, _, _ in events}
        await locks.hold(session, locks.LockSpace.ORGANISATION_ALERTS, organisations)
        known = await repository.contacts_of(session, organisations)
        waiting = [
            {
                "risk_event_id": e.risk_event_id,
                "organisation_id": e.organisation_id,
                "event": e.model_dump(mode="json"),
                "caused_by": caused_by,
            }
            for e, caused_by, _ in events
            if e.organisation_id not in known
        ]
        if waiting:
            await repository.park(session, waiting)
        alerts = [
            Queued(known[e.organisation_id].contacts, self._raised(e), caused_by, correlation)
            for e, caused_by, correlation in events
            if e.organisation_id in known
        ]
        return await self._queue(session, alerts)

    def _raised(self, event: RiskEventRaised) -> Alert:
        def context(language: str) -> dict[str, object]:
            return {
                "event": event,
                "organisation_name": event.organisation_name,
                "due": event.decision_due.isoformat() if event.decision_due else "",
                "measure": measure_words(event.recommended_measure.value, language),
                "contact_desk": self.settings.contact_desk,
            }

        return Alert(event.risk_event_id, event.organisation_id, event.risk_event_id, TEMPLATE, context)

    async def certificate_status_changed(
        self, session: AsyncSession, event: CertificateStatusChanged, caused_by: uuid.UUID
    ) -> int:
        """Tell the organisation that a decision suspended, withdrew or restored one of its certificates."""
        known = await self._contacts(session, event.organisation_id, "certificate status change")
        if known is None:
            return 0

        status = event.new_status.value

        def context(language: str) -> dict[str, object]:
            return {
                "event": event,
                "organisation_name": known.name,
                "contact_desk": self.settings.contact_desk,
                "status": status_words(status, language),
            }

        alert = Alert(caused_by, event.organisation_id, event.risk_event_id, "certificate_status_changed", context)
        return await self._queue(session, [Queued(known.contacts, alert, caused_by, correlation_id.get())])

    async def risk_event_updated(self, session: AsyncSession, event: RiskEventUpdated, caused_by: uuid.UUID) -> int:
        """Tell the organisation what a decision asks of it (an explanation, corrective action by a date,
        a special audit). Certificate measures reach it as certificate status changes."""
        if event.change != "decided" or event.decision not in ASKS_THE_ORGANISATION:
            return 0
        known = await self._contacts(session, event.organisation_id, "decision")
        if known is None:
            return 0
        decision = event.decision

        def context(language: str) -> dict[str, object]:
            return {
                "event": event,
                "organisation_name": known.name,
                "contact_desk": self.settings.contact_desk,
                "measure": measure_words(decision.value, language),
                "due": event.corrective_action_due.isoformat() if event.corrective_action_due else "",
            }

        alert = Alert(caused_by, event.organisation_id, event.risk_event_id, "decision_made", context)
        return await self._queue(session, [Queued(known.contacts, alert, caused_by, correlation_id.get())])

    async def _contacts(
        self, session: AsyncSession, organisation_id: uuid.UUID, what: str
    ) -> OrganisationContacts | None:
        known = (await repository.contacts_of(session, {organisation_id})).get(organisation_id)
        if known is None:  # a decision follows a raised event, which follows the registry: not expected
            log.warning("%s for organisation %s, whose contacts are unknown: nobody told", what, organisation_id)
        return known

    async def _queue(self, session: AsyncSession, alerts: list[Queued]) -> int:
        """Record, rendered, every message the alerts call for, in a few statements for all of them: nothing
        is sent inside the consumer's transaction (the sender sends after the commit)."""
        routes = [
            (queued, contact, channel, recipient)
            for queued in alerts
            for contact in (Contact.model_validate(c) for c in queued.contacts)
            for channel, recipient in self._routes(contact)
        ]
        if not routes:
            return 0
        ids = [deterministic_id("notification", q.alert.key, channel, recipient) for q, _, channel, recipient in routes]
        seen = await repository.recorded(session, ids)  # the idempotency keys recorded (sent, or waiting) already
        todo = [(delivery_id, route) for delivery_id, route in zip(ids, routes, strict=True) if delivery_id not in seen]
        todo = list({delivery_id: route for delivery_id, route in todo}.items())  # a message once per batch
        if not todo:
            return 0
        pages = [(queued.alert.organisation_id, queued.alert.risk_event_id) for _, (queued, *_) in todo]
        links = await self.links.issue_many(session, pages)
        quiet = self.settings.quiet_hours()
        now = datetime.now(UTC)
        rows: dict[bool, list[dict[str, object]]] = {False: [], True: []}  # by whether it waits for quiet hours
        told: list[tuple[uuid.UUID, str]] = []  # each message and its log line
        for delivery_id, (queued, contact, channel, recipient) in todo:
            alert = queued.alert
            link = links[(alert.organisation_id, alert.risk_event_id)]
            message = render(
                alert.template,
                contact.language,
                **alert.context(contact.language),
                channel=channel,
                link=link.url,
                short_link=link.short_url,
            )
            ends = quiet.ends_after(now) if quiet and channel == "sms" else None
            masked = mask_email(recipient) if channel == "email" else mask_phone(recipient)
            how = f"quiet hours, waits until {ends}" if ends else "queued"
            told.append((delivery_id, f"{alert.template} {alert.key} to {masked} via {channel}: {how}"))
            rows[ends is not None].append(
                {
                    "id": delivery_id,
                    "organisation_id": alert.organisation_id,
                    "risk_event_id": alert.risk_event_id,
                    "channel": channel,
                    "recipient": recipient,
                    "recipient_masked": masked,
                    "template": alert.template,
                    "subject": message.subject,
                    "body": message.body,
                    "caused_by": queued.caused_by,
                    "correlation_id": queued.correlation_id,
                    **({"send_after": ends} if ends else {}),
                }
            )
        recorded = await repository.queue(session, rows[False]) | await repository.queue(session, rows[True])
        for delivery_id, line in told:
            if delivery_id in recorded:  # not one recorded already under the same id
                log.info("%s", line)
        return len(recorded)

    def _routes(self, contact: Contact) -> list[tuple[str, str]]:
        routes = []
        if contact.email and "email" in contact.channels:
            routes.append(("email", contact.email))
        if contact.mobile and "sms" in contact.channels and self.settings.sms_gateway_url:
            routes.append(("sms", contact.mobile))
        return routes
