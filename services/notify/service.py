"""Alerting organisations about risk events: one alert per event per contact per channel."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import repository
from services.notify.channels import Channel, DeliveryError, with_retries
from services.notify.models import Delivery, PendingAlert
from services.notify.settings import NotifySettings
from services.notify.templates import measure_words, render
from shared.contracts import Topic, deterministic_id
from shared.contracts.notify import Channel as ChannelName
from shared.contracts.notify import NotificationDelivered, NotificationFailed
from shared.contracts.rules import Contact, OrganisationUpdated, RiskEventRaised
from shared.kafka.outbox import Outbox
from shared.logging import mask_email, mask_phone

log = logging.getLogger(__name__)
TEMPLATE = "risk_event_raised"


class Notifier:
    """Holds the channels and settings; the methods are the business calls of the consumers."""

    def __init__(self, settings: NotifySettings, outbox: Outbox, channels: dict[str, Channel]) -> None:
        self.settings = settings
        self.outbox = outbox
        self.channels = channels

    async def organisation_updated(self, session: AsyncSession, event: OrganisationUpdated) -> int:
        """Keep the contacts; send the alerts that were waiting for them. Returns alerts sent."""
        contacts = [c.model_dump() for c in event.contacts]
        await repository.save_contacts(session, event.organisation_id, event.name, contacts, event.revision)
        sent = 0
        for pending in await repository.take_pending(session, event.organisation_id):
            raised = RiskEventRaised.model_validate(pending.event)
            sent += await self.risk_event_raised(session, raised, pending.caused_by)
        return sent

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
        sent = 0
        for contact in (Contact.model_validate(c) for c in known.contacts):
            for channel, recipient in self._routes(contact):
                sent += await self._deliver(session, event, contact, channel, recipient, caused_by)
        return sent

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
        event: RiskEventRaised,
        contact: Contact,
        channel: str,
        recipient: str,
        caused_by: uuid.UUID,
    ) -> int:
        delivery_id = deterministic_id("notification", event.risk_event_id, channel, recipient)
        if await repository.delivery(session, delivery_id) is not None:
            return 0  # the idempotency key: this alert went out before
        masked = mask_email(recipient) if channel == "email" else mask_phone(recipient)
        message = render(
            TEMPLATE,
            contact.language,
            event=event,
            organisation_name=event.organisation_name,
            due=event.decision_due.isoformat() if event.decision_due else "",
            measure=measure_words(event.recommended_measure.value, contact.language),
            contact_desk=self.settings.contact_desk,
        )
        row = Delivery(
            id=delivery_id,
            organisation_id=event.organisation_id,
            risk_event_id=event.risk_event_id,
            channel=channel,
            recipient_masked=masked,
            template=TEMPLATE,
        )
        try:
            row.provider_id, row.attempts = await with_retries(
                self.settings.send_attempts,
                self.settings.send_backoff_seconds,
                lambda: self.channels[channel].send(recipient, message, str(delivery_id)),
            )
            row.status = "delivered"
        except DeliveryError as exc:
            row.status, row.attempts, row.error = "failed", self.settings.send_attempts, str(exc)
        session.add(row)
        log.info("alert %s to %s via %s: %s", event.risk_event_id, masked, channel, row.status)
        await self._publish(session, row, caused_by)
        return 1 if row.status == "delivered" else 0

    async def _publish(self, session: AsyncSession, row: Delivery, caused_by: uuid.UUID) -> None:
        common = {
            "notification_id": row.id,
            "organisation_id": row.organisation_id,
            "risk_event_id": row.risk_event_id,
            "channel": ChannelName(row.channel),
            "recipient_masked": row.recipient_masked,
            "template": row.template,
            "attempts": row.attempts,
        }
        now = datetime.now(UTC)
        payload: NotificationDelivered | NotificationFailed
        if row.status == "delivered":
            topic, payload = Topic.NOTIFICATION_DELIVERED, NotificationDelivered(**common, delivered_at=now)
        else:
            topic, payload = (
                Topic.NOTIFICATION_FAILED,
                NotificationFailed(**common, error=row.error or "", failed_at=now),
            )
        await self.outbox.add(
            session,
            topic,
            str(row.organisation_id),
            payload,
            event_id=deterministic_id(topic.value, row.id),
            causation_id=caused_by,
        )
