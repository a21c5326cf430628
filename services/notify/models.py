"""Tables owned by notify: contact copies, deliveries (the delivery outbox and log) and alerts awaiting contacts."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, DateTime, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.auth import token_table
from shared.db.base import messaging_tables, service_metadata


class Base(DeclarativeBase):
    metadata = service_metadata("notify")


messaging = messaging_tables(Base.metadata)
tokens = token_table(Base.metadata)  # this service's copy of the tokens (shared/auth.py)


class OrganisationContacts(Base):
    """notify's own copy of each organisation's contacts, from rules.organisation-updated."""

    __tablename__ = "organisation_contacts"

    organisation_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    contacts: Mapped[list[dict[str, object]]] = mapped_column(JSONB)
    revision: Mapped[int] = mapped_column(Integer)


class PendingAlert(Base):
    """A risk event that arrived before its organisation's contacts; sent when they arrive."""

    __tablename__ = "pending_alerts"

    risk_event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(index=True)
    event: Mapped[dict[str, object]] = mapped_column(JSONB)
    caused_by: Mapped[uuid.UUID]


class Delivery(Base):
    """One message to one recipient on one channel: the delivery outbox and the delivery log in one table.

    A consumer records it `queued`, rendered, with its recipient and `send_after` (now, or the end of the
    quiet hours); the sender (services/notify/sender.py) claims it, sends it and marks it `delivered` or
    `failed`, which forgets the recipient. Its id is the idempotency key."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "send_after", postgresql_where=text("status = 'queued'")),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(index=True)
    risk_event_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str | None] = mapped_column(String(254))  # until sent; never logged (recipient_masked is)
    recipient_masked: Mapped[str] = mapped_column(String(100))
    template: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # queued | delivered | failed
    send_after: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    claim: Mapped[uuid.UUID | None] = mapped_column()  # the sender's claim, valid until claimed_until
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(200))
    caused_by: Mapped[uuid.UUID | None] = mapped_column()
    correlation_id: Mapped[str | None] = mapped_column(Text)  # of the event that queued it, for its outcome
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OpenEvent(Base):
    """A risk event not yet closed, as the reviewers' daily digest lists it."""

    __tablename__ = "open_events"

    risk_event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organisation_name: Mapped[str] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    decision_due: Mapped[date | None] = mapped_column(Date, index=True)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The statutory clock still running that is due first (v2 events), with its legal basis.
    clock_due: Mapped[date | None] = mapped_column(Date)
    clock_kind: Mapped[str | None] = mapped_column(String(30))
    clock_basis: Mapped[str | None] = mapped_column(Text)


class Digest(Base):
    """One reviewers' digest to one recipient on one day; its id is the idempotency key."""

    __tablename__ = "digests"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    recipient_masked: Mapped[str] = mapped_column(String(100))
    events: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OrganisationLink(Base):
    """A signed link to an organisation's page (services/notify/organisations): one per organisation and risk
    event (none: the general link, for self-reports). `code` is its short form for SMS (/o/s/<code>)."""

    __tablename__ = "organisation_links"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # uuid5 of the organisation and the event
    organisation_id: Mapped[uuid.UUID] = mapped_column(index=True)
    risk_event_id: Mapped[uuid.UUID | None] = mapped_column()
    code: Mapped[str] = mapped_column(String(16), unique=True)
    token: Mapped[str] = mapped_column(Text)  # the signed link, for the short one to lead to
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EventPage(Base):
    """What an organisation's page shows of a risk event, from rules.risk-event-raised.v2 / -updated.v2."""

    __tablename__ = "event_pages"

    risk_event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(index=True)
    event: Mapped[dict[str, object]] = mapped_column(JSONB)  # the raised event, as published
    status: Mapped[str] = mapped_column(String(20))
    clocks: Mapped[list[dict[str, object]]] = mapped_column(JSONB)  # as of the latest update
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OrganisationResponse(Base):
    """What an organisation did on its page: acknowledged, replied, disputed, sent evidence, self-reported.
    Its id is uuid5 of the link and the form's idempotency key: a repeated submit is this row again."""

    __tablename__ = "organisation_responses"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    link_id: Mapped[uuid.UUID] = mapped_column(index=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(index=True)
    risk_event_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(30))
    text: Mapped[str | None] = mapped_column(Text)
    files: Mapped[list[dict[str, object]]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
