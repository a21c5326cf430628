"""The rules service's declarative base: every table lives in schema `rules`."""

from sqlalchemy.orm import DeclarativeBase

from shared.db.base import messaging_tables, service_metadata
from shared.jobs import job_table


class Base(DeclarativeBase):
    metadata = service_metadata("rules")


messaging = messaging_tables(Base.metadata)
jobs = job_table(Base.metadata)  # registry imports (shared/jobs.py, registry/jobs.py)
