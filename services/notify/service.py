"""Alerting organisations about risk events: one message per event per contact per channel, recorded for the
sender in the consumer's transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import repository
from services.notify.models import OrganisationContacts, PendingAlert
from services.notify.organisations.links import Issued, Links
from services.notify.settings import NotifySettings
from services.notify.templates import STATUS_WORDS, measure_words, render
from shared.contracts import deterministic_id
from shared.contracts.rules import (
    CertificateStatusChanged,
    Contact,
    Measure,
    OrganisationUpdated,
    RiskEventRaised,
    RiskEventUpdated,
)
from shared.logging import correlation_id, mask_email, mask_phone

log = logging.getLogger(__name__)
TEMPLATE = "risk_event_raised"
# Decisions that ask something of the organisation (certificate measures are told as status changes).
ASKS_THE_ORGANISATION = frozenset({Measure.REQUEST_EXPLANATION, Measure.CORRECTIVE_ACTION, Measure.SPECIAL_AUDIT})


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
        self.links = Links(settings)  # every alert carries its signed link to the organisation's page

    async def organisation_updated(self, session: AsyncSession, event: OrganisationUpdated) -> int:
        """Keep the contacts; queue the alerts that were waiting for them."""
        contacts = [c.model_dump() for c in event.contacts]
        await repository.save_contacts(session, event.organisation_id, event.name, contacts, event.revision)
        queued = 0
        for pending in await repository.take_pending(session, event.organisation_id):
            raised = RiskEventRaised.model_validate(pending.event)
            queued += await self.risk_event_raised(session, raised, pending.caused_by)
        return queued

    async def risk_event_raised(self, session: AsyncSession, event: RiskEventRaised, caused_by: uuid.UUID) -> int:
        """Alert every contact of the organisation on each channel they accept."""
        known = await repository.contacts_of(session, event.organisation_id)
        if known is None:
            await repository.park(
                session,
                PendingAlert(
                    risk_event_id=event.risk_event_id,
                    organisation_id=event.organisation_id,
                    event=event.model_dump(mode="json"),
                    caused_by=caused_by,
                ),
            )
            return 0

        def context(language: str) -> dict[str, object]:
            return {
                "event": event,
                "organisation_name": event.organisation_name,
                "due": event.decision_due.isoformat() if event.decision_due else "",
                "measure": measure_words(event.recommended_measure.value, language),
                "contact_desk": self.settings.contact_desk,
            }

        alert = Alert(event.risk_event_id, event.organisation_id, event.risk_event_id, TEMPLATE, context)
        return await self._queue(session, known.contacts, alert, caused_by)

    async def certificate_status_changed(
        self, session: AsyncSession, event: CertificateStatusChanged, caused_by: uuid.UUID
    ) -> int:
        """Tell the organisation that a decision suspended, withdrew or restored one of its certificates."""
        known = await self._contacts(session, event.organisation_id, "certificate status change")
        if known is None:
            return 0

        status = event.new_status.value

        def context(language: str) -> dict[str, object]:
            return {"event": event, "organisation_name": known.name, "contact_desk": self.settings.contact_desk,
                    "status": STATUS_WORDS.get(language, {}).get(status, status)}  # fmt: skip

        alert = Alert(caused_by, event.organisation_id, event.risk_event_id, "certificate_status_changed", context)
        return await self._queue(session, known.contacts, alert, caused_by)

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
            return {"event": event, "organisation_name": known.name, "contact_desk": self.settings.contact_desk,
                    "measure": measure_words(decision.value, language),
                    "due": event.corrective_action_due.isoformat() if event.corrective_action_due else ""}  # fmt: skip

        alert = Alert(caused_by, event.organisation_id, event.risk_event_id, "decision_made", context)
        return await self._queue(session, known.contacts, alert, caused_by)

    async def _contacts(
        self, session: AsyncSession, organisation_id: uuid.UUID, what: str
    ) -> OrganisationContacts | None:
        known = await repository.contacts_of(session, organisation_id)
        if known is None:  # a decision follows a raised event, which follows the registry: not expected
            log.warning("%s for organisation %s, whose contacts are unknown: nobody told", what, organisation_id)
        return known

    async def _queue(
        self, session: AsyncSession, contacts: list[dict[str, object]], alert: Alert, caused_by: uuid.UUID
    ) -> int:
        routes = [(c, *route) for c in (Contact.model_validate(c) for c in contacts) for route in self._routes(c)]
        if not routes:
            return 0
        link = await self.links.issue(session, alert.organisation_id, alert.risk_event_id)
        queued = 0
        for contact, channel, recipient in routes:
            queued += await self._deliver(session, alert, contact, channel, recipient, caused_by, link)
        return queued

    def _routes(self, contact: Contact) -> list[tuple[str, str]]:
        routes = []
        if contact.email and "email" in contact.channels:
            routes.append(("email", contact.email))
        if contact.mobile and "sms" in contact.channels and self.settings.sms_gateway_url:
            routes.append(("sms", contact.mobile))
        return routes

    async def _deliver(
        self,
        session: AsyncSession,
        alert: Alert,
        contact: Contact,
        channel: str,
        recipient: str,
        caused_by: uuid.UUID,
        link: Issued,
    ) -> int:
        """Record the message, rendered, for the sender: nothing is sent inside the consumer's transaction."""
        delivery_id = deterministic_id("notification", alert.key, channel, recipient)
        if await repository.delivery(session, delivery_id) is not None:
            return 0  # the idempotency key: this message is recorded (sent, or waiting to be) already
        masked = mask_email(recipient) if channel == "email" else mask_phone(recipient)
        message = render(
            alert.template, contact.language, **alert.context(contact.language), channel=channel, link=link.url,
            short_link=link.short_url,
        )  # fmt: skip
        quiet = self.settings.quiet_hours()
        ends = quiet.ends_after(datetime.now(UTC)) if quiet and channel == "sms" else None
        values = {
            "id": delivery_id, "organisation_id": alert.organisation_id, "risk_event_id": alert.risk_event_id,
            "channel": channel, "recipient": recipient, "recipient_masked": masked, "template": alert.template,
            "subject": message.subject, "body": message.body, "caused_by": caused_by,
            "correlation_id": correlation_id.get(),
            **({"send_after": ends} if ends else {}),
        }  # fmt: skip
        if not await repository.queue(session, values):
            return 0
        if ends is not None:
            log.info("%s %s to %s via sms: quiet hours, waits until %s", alert.template, alert.key, masked, ends)
        else:
            log.info("%s %s to %s via %s: queued", alert.template, alert.key, masked, channel)
        return 1
