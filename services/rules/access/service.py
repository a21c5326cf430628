"""Roles, tokens and who may do what.

Every write to the rules service is made by a named actor holding a role, with a bearer token. The
token is shown once, when it is made; only its SHA-256 is stored (a random 256-bit token needs no
slow hash). The administrator token in the settings (`CERTWATCH_RULES_ADMIN_TOKEN`) bootstraps the
rest: it can make and revoke tokens and maintain the registry.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.access.models import ApiToken
from shared.errors import Forbidden, NotFound, Unauthorized


class Role(StrEnum):
    REVIEWER = "reviewer"  # assigns, comments, confirms or rejects matches
    DECISION_MAKER = "decision_maker"  # and decides and closes
    ADMINISTRATOR = "administrator"  # maintains the registry and the tokens; decides nothing
    REGULATOR = "regulator"  # reads only


class Action(StrEnum):
    MAINTAIN_REGISTRY = "maintain the registry"
    REVIEW = "review risk events"
    DECIDE = "decide risk events"
    MANAGE_TOKENS = "manage tokens"
    RAISE_FROM_REPLAY = "raise risk events from replayed signals"


ALLOWED: dict[Action, frozenset[Role]] = {
    Action.MAINTAIN_REGISTRY: frozenset({Role.ADMINISTRATOR}),
    Action.REVIEW: frozenset({Role.REVIEWER, Role.DECISION_MAKER}),
    Action.DECIDE: frozenset({Role.DECISION_MAKER}),
    Action.MANAGE_TOKENS: frozenset({Role.ADMINISTRATOR}),
    Action.RAISE_FROM_REPLAY: frozenset({Role.ADMINISTRATOR}),
}
SETTINGS_ADMIN = "admin"  # the actor name of the settings' administrator token


@dataclass(frozen=True)
class Actor:
    name: str
    role: Role

    def may(self, action: Action) -> None:
        if self.role not in ALLOWED[action]:
            allowed = " or ".join(sorted(ALLOWED[action]))
            raise Forbidden(f"{self.name} ({self.role}) may not {action.value}: that needs {allowed}")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def authenticate(session: AsyncSession, token: str | None, admin_token: str | None) -> Actor:
    if not token:
        raise Unauthorized("this needs a bearer token: Authorization: Bearer <token> (certwatch rules token-create)")
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Actor(SETTINGS_ADMIN, Role.ADMINISTRATOR)
    found = await session.scalar(
        select(ApiToken).where(ApiToken.token_hash == digest(token), ApiToken.revoked_at.is_(None))
    )
    if found is None:
        raise Unauthorized("unknown or revoked token")
    return Actor(found.name, Role(found.role))


async def create(session: AsyncSession, name: str, role: Role, created_by: str) -> tuple[ApiToken, str]:
    """A new token for `name`: the row, and the token itself (shown this once)."""
    token = secrets.token_urlsafe(32)
    row = ApiToken(id=uuid.uuid4(), name=name, role=role.value, token_hash=digest(token), created_by=created_by)
    session.add(row)
    await session.flush()
    return row, token


async def listed(session: AsyncSession) -> list[ApiToken]:
    return list((await session.scalars(select(ApiToken).order_by(ApiToken.created_at))).all())


async def revoke(session: AsyncSession, token_id: uuid.UUID) -> ApiToken:
    row = await session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    row.revoked_at = row.revoked_at or datetime.now(UTC)
    return row
