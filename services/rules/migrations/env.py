"""Alembic environment of the rules service: its own schema, its own version table."""

from services.rules.models import Base
from shared.db.migrations import run_env

run_env(Base.metadata, "rules")
