"""Read models of reporting, built only from events."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.auth import token_table
from shared.db.base import messaging_tables, service_metadata


class Base(DeclarativeBase):
    metadata = service_metadata("reporting")


messaging = messaging_tables(Base.metadata)
tokens = token_table(Base.metadata)  # this service's copy of the tokens (shared/auth.py)


class Tally(Base):
    """A named count along one dimension, e.g. (risk_events, severity=high)."""

    __tablename__ = "tallies"

    metric: Mapped[str] = mapped_column(String(60), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class RiskEventView(Base):
    __tablename__ = "risk_events"

    risk_event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(index=True)
    organisation_name: Mapped[str] = mapped_column(String(300))
    signal_kind: Mapped[str] = mapped_column(String(50))
    severity: Mapped[str] = mapped_column(String(20))
    province: Mapped[str | None] = mapped_column(String(50))
    certificate_types: Mapped[str] = mapped_column(Text, default="")
    recommended_measure: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20))
    decision: Mapped[str | None] = mapped_column(String(30))
    decision_due: Mapped[date | None] = mapped_column(Date)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the latest decision
    decided_by: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MeasureTaken(Base):
    """A certificate suspended, withdrawn or restored by a recorded decision."""

    __tablename__ = "measures_taken"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(index=True)
    certificate_number: Mapped[str] = mapped_column(String(100))
    certificate_type: Mapped[str] = mapped_column(String(30))
    old_status: Mapped[str] = mapped_column(String(20))
    new_status: Mapped[str] = mapped_column(String(20))
    effective_on: Mapped[date] = mapped_column(Date, index=True)
    until: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    risk_event_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    decided_by: Mapped[str] = mapped_column(String(100))


class ClockView(Base):
    """A statutory clock of a risk event, as rules last published it (`rules.risk-event-*.v2`)."""

    __tablename__ = "clocks"

    clock_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    risk_event_id: Mapped[uuid.UUID] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(30))
    basis_document: Mapped[str] = mapped_column(String(200))
    basis_article: Mapped[str] = mapped_column(String(50))
    starts_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    state: Mapped[str] = mapped_column(String(10))
    ended_on: Mapped[date | None] = mapped_column(Date)
    ended_by: Mapped[str | None] = mapped_column(String(30))
    provisional: Mapped[bool] = mapped_column(Boolean)
    signal_published_on: Mapped[date | None] = mapped_column(Date)


class ScreenedOrganisation(Base):
    __tablename__ = "screened_organisations"

    organisation_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    certificate_count: Mapped[int] = mapped_column(Integer, default=0)


class FeedFreshness(Base):
    __tablename__ = "feed_freshness"

    feed: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_status: Mapped[str] = mapped_column(String(20))
    last_finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_succeeded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    runs: Mapped[int] = mapped_column(Integer, default=0)
