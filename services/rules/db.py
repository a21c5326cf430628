"""The rules service's declarative base: every table lives in schema `rules`."""

from sqlalchemy.orm import DeclarativeBase

from shared.db.base import messaging_tables, service_metadata


class Base(DeclarativeBase):
    metadata = service_metadata("rules")


messaging = messaging_tables(Base.metadata)
