"""Risk events, their statutory clocks and their append-only audit trail."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, false, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.rules.db import Base


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
