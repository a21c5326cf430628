"""Every table of the rules service, for Alembic."""

from services.rules.access.models import ApiToken
from services.rules.db import Base, jobs, messaging
from services.rules.sweep.models import Sweep, SweepHit, SweepRanking
from services.rules.tables import (
    AuditEntry,
    Certificate,
    Contact,
    DeadlineClock,
    MatchVerdict,
    Organisation,
    OrganisationRevision,
    RiskEvent,
)

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Base",
    "Certificate",
    "Contact",
    "DeadlineClock",
    "MatchVerdict",
    "Organisation",
    "OrganisationRevision",
    "RiskEvent",
    "Sweep",
    "SweepHit",
    "SweepRanking",
    "jobs",
    "messaging",
]
