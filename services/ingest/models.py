"""Tables owned by ingest: raw records, accepted signals, feed runs and rejected rows."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, LargeBinary, String, Text, func, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.auth import token_table
from shared.db.base import messaging_tables, service_metadata
from shared.jobs import job_table


class Base(DeclarativeBase):
    metadata = service_metadata("ingest")


messaging = messaging_tables(Base.metadata)
tokens = token_table(Base.metadata)  # this service's copy of the tokens (shared/auth.py)
jobs = job_table(Base.metadata)  # uploads (shared/jobs.py, runs/uploads.py)


class RawRecord(Base):
    """Every raw record as received, keyed by the hash of its content."""

    __tablename__ = "raw_records"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    feed: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(50))
    content: Mapped[dict[str, object]] = mapped_column(JSONB)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    run_id: Mapped[uuid.UUID | None]


class SignalRecord(Base):
    """An accepted signal; its id is deterministic, so a re-delivery finds the same row."""

    __tablename__ = "signals"

    signal_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    feed: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(50), index=True)
    subject_key: Mapped[str] = mapped_column(String(300), index=True)
    payload: Mapped[dict[str, object]] = mapped_column(JSONB)
    raw_record_ref: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    released: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)


class FeedRun(Base):
    """One run of one feed (or one uploaded file): when, how it ended and what it counted."""

    __tablename__ = "feed_runs"

    run_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    feed: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(50))
    source: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    published: Mapped[int] = mapped_column(Integer, default=0)
    skipped_passing: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)


class FeedState(Base):
    """What the next run of a feed needs: conditional-request validators and the last snapshot."""

    __tablename__ = "feed_state"

    feed: Mapped[str] = mapped_column(String(100), primary_key=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_sha256: Mapped[str | None] = mapped_column(String(64))
    snapshot: Mapped[bytes | None] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RejectedRow(Base):
    """A row that could not be accepted, with where it came from and why."""

    __tablename__ = "rejected_rows"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    feed: Mapped[str] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(Text)
    row_number: Mapped[int | None]
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str | None] = mapped_column(Text)
    rejected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
