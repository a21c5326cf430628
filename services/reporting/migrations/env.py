"""Alembic environment of the reporting service: its own schema, its own version table."""

from services.reporting.models import Base
from shared.db.migrations import run_env

run_env(Base.metadata, "reporting")
