"""Alembic environment of the ingest service: its own schema, its own version table."""

from services.ingest.models import Base
from shared.db.migrations import run_env

run_env(Base.metadata, "ingest")
