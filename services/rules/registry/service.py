"""Maintaining the registry: idempotent upserts with history, published on organisation-updated (one
organisation at a time; an import of a file is set-based, in bulk.py, and writes the same rows)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.registry import repository
from services.rules.registry.importer import organisation_id
from services.rules.registry.schemas import OrganisationIn
from services.rules.tables import Certificate, Contact, Organisation, OrganisationRevision
from shared.contracts import Topic, deterministic_id
from shared.contracts.rules import Contact as ContactEvent
from shared.contracts.rules import OrganisationUpdated
from shared.errors import InvalidInput, NotFound
from shared.identifiers import check_code
from shared.kafka.outbox import Outbox


def normalised(incoming: OrganisationIn) -> OrganisationIn:
    """Compact a valid credit code; refuse an invalid one (it must never become a match key)."""
    if incoming.credit_code is None:
        return incoming
    check = check_code(incoming.credit_code)
    if check is None:
        return incoming.model_copy(update={"credit_code": None})
    if not check.valid:
        raise InvalidInput(f"credit_code {incoming.credit_code!r}: {check.problem}", field="credit_code")
    return incoming.model_copy(update={"credit_code": check.code})


def _state(org: Organisation) -> dict[str, object]:
    return OrganisationIn(
        external_ref=org.external_ref,
        name=org.name,
        former_names=list(org.former_names),
        credit_code=org.credit_code,
        address=org.address,
        province=org.province,
        city=org.city,
        sites=list(org.sites or []),
        contacts=[
            {"name": c.name, "email": c.email, "mobile": c.mobile, "language": c.language, "channels": c.channels}
            for c in org.contacts
        ],
        certificates=[
            {
                k: getattr(c, k)
                for k in (
                    "number",
                    "type",
                    "standard",
                    "scope",
                    "products",
                    "status",
                    "status_changed_on",
                    "issued_on",
                    "expires_on",
                    "sites_covered",
                    "applicant",
                    "manufacturer",
                    "factory",
                )
            }
            for c in org.certificates
        ],
    ).model_dump(mode="json")


def _apply(org: Organisation, incoming: OrganisationIn) -> None:
    for field in ("name", "credit_code", "address", "province", "city"):
        setattr(org, field, getattr(incoming, field))
    org.former_names = list(incoming.former_names)
    org.sites = [site.model_dump() for site in incoming.sites]
    org.contacts = [Contact(**c.model_dump()) for c in incoming.contacts]
    org.certificates = [
        Certificate(id=deterministic_id("certificate", c.number), **c.model_dump()) for c in incoming.certificates
    ]


async def upsert(
    session: AsyncSession,
    outbox: Outbox,
    incoming: OrganisationIn,
    source: str,
    known: dict[uuid.UUID, Organisation] | None = None,
) -> str:
    """Create or update one organisation; returns created, updated or unchanged. `known`: the
    organisations already loaded (an import loads a batch at a time, and writes it at once), none
    other exists."""
    incoming = normalised(incoming)
    org_id = organisation_id(incoming.external_ref)
    org = known.get(org_id) if known is not None else await repository.get(session, org_id)
    if org is not None and _state(org) == incoming.model_dump(mode="json"):
        return "unchanged"
    outcome = "updated" if org else "created"
    if org is None:
        org = Organisation(id=org_id, external_ref=incoming.external_ref, revision=1, contacts=[], certificates=[])
        session.add(org)
    else:
        org.revision += 1
    _apply(org, incoming)
    await _recorded(session, outbox, org, source, flush=known is None)
    return outcome


async def record_change(session: AsyncSession, outbox: Outbox, org: Organisation, source: str) -> None:
    """A change made to a loaded organisation elsewhere (a decision changing a certificate's status):
    a new revision in the history, published like an import's."""
    org.revision += 1
    await _recorded(session, outbox, org, source)


async def _recorded(session: AsyncSession, outbox: Outbox, org: Organisation, source: str, flush: bool = True) -> None:
    org.updated_at = datetime.now(UTC)
    if flush:
        await session.flush()
    session.add(
        OrganisationRevision(organisation_id=org.id, revision=org.revision, snapshot=_state(org), source=source)
    )
    await outbox.add(
        session,
        Topic.ORGANISATION_UPDATED,
        str(org.id),
        _event(org),
        event_id=deterministic_id("organisation-updated", org.id, org.revision),
    )


def _event(org: Organisation) -> OrganisationUpdated:
    return OrganisationUpdated(
        organisation_id=org.id,
        name=org.name,
        former_names=list(org.former_names),
        credit_code=org.credit_code,
        province=org.province,
        city=org.city,
        contacts=[
            ContactEvent(name=c.name, email=c.email, mobile=c.mobile, language=c.language, channels=list(c.channels))
            for c in org.contacts
        ],
        certificate_count=len(org.certificates),
        certificate_types=sorted({c.type for c in org.certificates}),
        revision=org.revision,
        updated_at=org.updated_at,
    )


async def find(session: AsyncSession, org_id: uuid.UUID) -> Organisation | None:
    """The organisation with its contacts and certificates, or None."""
    return await repository.get(session, org_id)


async def get(session: AsyncSession, org_id: uuid.UUID) -> Organisation:
    org = await repository.get(session, org_id)
    if org is None:
        raise NotFound(f"no organisation {org_id}")
    return org
