"""Read models of reporting, built only from events."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Float, Index, Integer, String, Text, text
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


class DailyTally(Base):
    """A count per local day (Asia/Shanghai), metric and dimension, kept by the consumer: the dashboard's trends
    and period figures read these few thousand rows, never the risk events themselves (service.py says which
    metrics; the statutory clocks' are on their due day, from migration 0006)."""

    __tablename__ = "daily_tallies"
    __table_args__ = (  # covering: the dashboard's sums read the index alone (migration 0006)
        Index("ix_daily_tallies_metric_day", "metric", "day", postgresql_include=["dimension", "value"]),
    )

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(String(60), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class RiskEventView(Base):
    __tablename__ = "risk_events"
    __table_args__ = (
        Index("ix_risk_events_signal_kind_raised_at", "signal_kind", "raised_at"),
        Index("ix_risk_events_status_raised_at", "status", "raised_at"),
        Index("ix_risk_events_decided_at", "decided_at"),
        Index("ix_risk_events_open_due", "decision_due", postgresql_where=text("status IN ('open', 'in_review')")),
        # the open events newest first, past their deadline or not, from the index alone (migration 0006)
        Index(
            "ix_risk_events_open_raised_at",
            "raised_at",
            postgresql_include=["decision_due", "risk_event_id"],
            postgresql_where=text("status IN ('open', 'in_review')"),
        ),
    )

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
    # what the event's page shows (events raised before migration 0005 have none)
    signal_id: Mapped[uuid.UUID | None] = mapped_column()
    rule_id: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    match_method: Mapped[str | None] = mapped_column(String(50))
    match_score: Mapped[float | None] = mapped_column(Float)
    match_explanation: Mapped[str | None] = mapped_column(Text)
    certificates: Mapped[str | None] = mapped_column(Text)  # "number type status" per line


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
    __table_args__ = (  # the dashboard's timeliness reads the period's clocks from the index alone
        Index(
            "ix_clocks_due_on_timeliness",
            "due_on",
            postgresql_include=["kind", "state", "ended_on", "starts_on", "signal_published_on"],
        ),
    )

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


class NotificationView(Base):
    """A notification delivered or given up on, as notify reported it."""

    __tablename__ = "notifications"

    notification_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(index=True)
    risk_event_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    channel: Mapped[str] = mapped_column(String(20))
    recipient_masked: Mapped[str] = mapped_column(String(200))
    template: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(20))  # delivered | failed
    attempts: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


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
