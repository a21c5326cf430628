"""Campaign sweeps: the record of each run, the hits it found and its ranking of organisations."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.rules.db import Base


class Sweep(Base):
    """One campaign sweep: when, with which ruleset, over what, how long it took, and how far it is."""

    __tablename__ = "sweeps"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(20))  # queued | running | succeeded | failed
    # True while queued or running, NULL after: the unique index lets one sweep run at a time.
    active: Mapped[bool | None] = mapped_column(Boolean, unique=True)
    requested_by: Mapped[str] = mapped_column(String(100))
    as_of: Mapped[date] = mapped_column(Date)
    window: Mapped[str] = mapped_column(String(20))
    since: Mapped[date] = mapped_column(Date)
    ruleset_version: Mapped[str] = mapped_column(String(100))
    ruleset: Mapped[dict[str, object]] = mapped_column(JSONB)
    phase: Mapped[str] = mapped_column(String(30), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    organisations: Mapped[int] = mapped_column(Integer, default=0)
    certificates: Mapped[int] = mapped_column(Integer, default=0)
    signals_read: Mapped[int] = mapped_column(Integer, default=0)  # from ingest, the window's edges included
    signals: Mapped[int] = mapped_column(Integer, default=0)  # in the window: screened
    hits: Mapped[int] = mapped_column(Integer, default=0)  # (signal, organisation) pairs
    organisations_hit: Mapped[int] = mapped_column(Integer, default=0)
    events_raised: Mapped[int] = mapped_column(Integer, default=0)
    coverage: Mapped[dict[str, object]] = mapped_column(JSONB, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seconds: Mapped[float | None] = mapped_column(Float)


class SweepHit(Base):
    """A signal of the window matched to an organisation, and the risk event it calls for."""

    __tablename__ = "sweep_hits"
    __table_args__ = (Index("ix_sweep_hits_sweep_id_organisation_id", "sweep_id", "organisation_id"),)

    sweep_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True)
    signal_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    signal_kind: Mapped[str] = mapped_column(String(50))
    feed: Mapped[str] = mapped_column(String(100))
    signal_on: Mapped[date | None] = mapped_column(Date)
    subject_name: Mapped[str] = mapped_column(Text)
    party_role: Mapped[str | None] = mapped_column(String(50))
    product: Mapped[str | None] = mapped_column(Text)
    bulletin_no: Mapped[str | None] = mapped_column(Text)
    certificate_no: Mapped[str | None] = mapped_column(String(100))  # the licence or CCC certificate a status names
    match_decision: Mapped[str] = mapped_column(String(10))
    match_method: Mapped[str] = mapped_column(String(30))
    match_score: Mapped[float] = mapped_column(Float)
    product_in_scope: Mapped[bool | None] = mapped_column(Boolean)
    rule_id: Mapped[str | None] = mapped_column(String(100))
    severity: Mapped[str | None] = mapped_column(String(20))
    recommended_measure: Mapped[str | None] = mapped_column(String(30))
    event_id: Mapped[uuid.UUID | None] = mapped_column()  # the risk event of its most severe rule
    raised: Mapped[bool] = mapped_column(Boolean, default=False)  # raised by this sweep (missing before)


class SweepRanking(Base):
    """An organisation's place in a sweep's ranking, with its score and the reasons behind it."""

    __tablename__ = "sweep_rankings"
    __table_args__ = (Index("ix_sweep_rankings_sweep_id_rank", "sweep_id", "rank"),)

    sweep_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(10))
    hits: Mapped[int] = mapped_column(Integer)
    in_force: Mapped[list[str]] = mapped_column(JSONB, default=list)
    reasons: Mapped[list[dict[str, object]]] = mapped_column(JSONB, default=list)
