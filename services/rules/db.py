"""The rules service's declarative base: every table lives in schema `rules`."""

from shared.db.base import declarative_base

Base, messaging = declarative_base("rules")
