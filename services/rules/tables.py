"""The tables more than one of rules' sub-domains reads: the registry's (organisations, their contacts,
certificates and revisions, the reviewers' match verdicts) and the risk events' (risk events, their clocks
and audit trail).

They are the schema the sub-domains share, not one sub-domain's insides: screening loads organisations with
their certificates to evaluate the rules and raises risk events; review joins organisation names onto its
lists and keeps match verdicts; the live index (registry/live_index.py) reads organisations and verdicts;
the sweep's report joins organisations, certificates, risk events and audit rows to its rankings in one
statement each. A function on the owner's service.py for each of those joins would cost a round trip per
page, or a copy of the rows, where one SQL statement does it; so the tables are shared, and what is done
to them (an import, a decision, a raised event) stays with the sub-domain that owns it, called through its
service.py. A table only one sub-domain reads stays in that sub-domain's models.py (access, sweep).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.rules.db import Base

# The registry (registry/): written by imports and edits through registry/service.py.

CURRENT_XID = "(pg_current_xact_id()::text)::bigint"


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    external_ref: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300), index=True)
    former_names: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    credit_code: Mapped[str | None] = mapped_column(String(18), index=True)
    address: Mapped[str | None] = mapped_column(Text)
    province: Mapped[str | None] = mapped_column(String(50))
    city: Mapped[str | None] = mapped_column(String(50))
    sites: Mapped[list[dict[str, str]]] = mapped_column(JSONB, default=list)  # production sites
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The transaction that last wrote the row, stamped by a trigger (migration 0002): the live matcher
    # index reads what changed since the oldest transaction still running at its last read, so a
    # transaction that commits late is never missed (a timestamp watermark could pass it by).
    change_xid: Mapped[int] = mapped_column(
        BigInteger, server_default=text(CURRENT_XID), server_onupdate=FetchedValue(), index=True
    )

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan", lazy="selectin"
    )
    certificates: Mapped[list[Certificate]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan", lazy="selectin"
    )


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    mobile: Mapped[str | None] = mapped_column(String(30))
    language: Mapped[str] = mapped_column(String(10), default="zh-CN")
    channels: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{email,sms}'"))

    organisation: Mapped[Organisation] = relationship(back_populates="contacts")


class Certificate(Base):
    __tablename__ = "certificates"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(30))
    standard: Mapped[str | None] = mapped_column(String(100))
    scope: Mapped[str | None] = mapped_column(Text)
    products: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    status: Mapped[str] = mapped_column(String(20), default="valid")
    status_changed_on: Mapped[date | None] = mapped_column(Date)
    issued_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    sites_covered: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    applicant: Mapped[str | None] = mapped_column(String(300))
    manufacturer: Mapped[str | None] = mapped_column(String(300))
    factory: Mapped[str | None] = mapped_column(String(300))

    organisation: Mapped[Organisation] = relationship(back_populates="certificates")


class OrganisationRevision(Base):
    """History: the full state of an organisation at each revision an import or edit produced."""

    __tablename__ = "organisation_revisions"

    organisation_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(primary_key=True)
    snapshot: Mapped[dict[str, object]] = mapped_column(JSONB)
    source: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MatchVerdict(Base):
    """A reviewer's word on a (signal subject, organisation) pair: the matcher never asks twice, and a
    rejected pair is never matched automatically again."""

    __tablename__ = "match_verdicts"

    subject_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    confirmed: Mapped[bool]
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# Risk events (review/): raised by screening and decided by reviewers, through review/service.py.


class RiskEvent(Base):
    __tablename__ = "risk_events"
    __table_args__ = (  # a list filtered by status or severity reads its page, newest first, from one index
        Index("ix_risk_events_status_created_at", "status", "created_at"),
        Index("ix_risk_events_severity_created_at", "severity", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    signal_id: Mapped[uuid.UUID] = mapped_column(index=True)
    signal_kind: Mapped[str] = mapped_column(String(50))
    signal: Mapped[dict[str, object]] = mapped_column(JSONB)
    rule_id: Mapped[str] = mapped_column(String(100))
    rule_version: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(20))
    recommended_measure: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20), default="open")
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    decision_due: Mapped[date | None] = mapped_column(Date)
    match: Mapped[dict[str, object]] = mapped_column(JSONB)
    assigned_to: Mapped[str | None] = mapped_column(String(100))
    decision: Mapped[str | None] = mapped_column(String(30))
    # Set by a suspension, cleared by any later decision: when it passes, the event is reopened.
    suspended_until: Mapped[date | None] = mapped_column(Date, index=True)
    # A later signal that corrects this one (复检合格, 异议成立, removed from the list): its state (pending,
    # confirmed, rejected), the signal and the evidence. Only a decision-maker's confirmation closes the event.
    correction: Mapped[dict[str, object] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Loaded with the event (one query for a page of them): the API shows them on every event.
    clocks: Mapped[list[DeadlineClock]] = relationship(
        lazy="selectin", order_by="(DeadlineClock.starts_on, DeadlineClock.created_at)"
    )


class DeadlineClock(Base):
    """A statutory deadline of a risk event, with the legal basis it was started under (ruleset/clocks.py).

    `state` is stored when the clock ends (met, missed, void); until then it says running, and a running
    clock whose due date has passed reads as missed (`ClockRead`)."""

    __tablename__ = "clocks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # uuid5 of the event, the kind and its start
    risk_event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("risk_events.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    basis: Mapped[dict[str, str]] = mapped_column(JSONB)  # document, article, requirement
    starts_on: Mapped[date] = mapped_column(Date)
    length: Mapped[int | None] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(20))
    due_on: Mapped[date] = mapped_column(Date, index=True)
    state: Mapped[str] = mapped_column(String(10), default="running")
    ended_on: Mapped[date | None] = mapped_column(Date)
    ended_by: Mapped[str | None] = mapped_column(String(30))
    provisional: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    calendar_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AuditEntry(Base):
    """Who did what to a risk event, when and why; rows are only ever added."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    risk_event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("risk_events.id"), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    detail: Mapped[dict[str, object]] = mapped_column(JSONB, default=dict)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
