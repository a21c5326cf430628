"""The registry of certified organisations and their certificates."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ARRAY, BigInteger, Date, DateTime, FetchedValue, ForeignKey, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.rules.db import Base

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
