"""Every table of the rules service, for Alembic."""

from services.rules.access.models import ApiToken
from services.rules.db import Base, jobs, messaging
from services.rules.registry.models import Certificate, Contact, MatchVerdict, Organisation, OrganisationRevision
from services.rules.review.models import AuditEntry, DeadlineClock, RiskEvent
from services.rules.sweep.models import Sweep, SweepHit, SweepRanking

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
