"""Tokens: made and revoked here, the one place that owns them (DESIGN.md §6).

A token is shown once, when it is made; only its SHA-256 is stored. Each change is published on
`rules.api-token-changed.v1` in the same transaction (the outbox), so every other service's copy follows.
Roles, actions and the check itself are shared by all services: `shared/auth.py`.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.access.models import ApiToken
from shared.auth import Role, digest, token_changed
from shared.contracts import Topic
from shared.errors import NotFound
from shared.kafka.outbox import Outbox


async def create(session: AsyncSession, outbox: Outbox, name: str, role: Role, created_by: str) -> tuple[ApiToken, str]:
    """A new token for `name`: the row, and the token itself (shown this once)."""
    token = secrets.token_urlsafe(32)
    row = ApiToken(
        id=uuid.uuid4(),
        name=name,
        role=role.value,
        token_hash=digest(token),
        created_by=created_by,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    await session.flush()
    await _publish(outbox, session, row)
    return row, token


async def listed(session: AsyncSession) -> list[ApiToken]:
    return list((await session.scalars(select(ApiToken).order_by(ApiToken.created_at))).all())


async def revoke(session: AsyncSession, outbox: Outbox, token_id: uuid.UUID) -> ApiToken:
    row = await session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        await _publish(outbox, session, row)
    return row


async def publish_missing(session: AsyncSession, outbox: Outbox) -> int:
    """Queue the event of every token's current state that was never queued (tokens made before their
    changes were published, or restored from a backup); the deterministic event ids make this a no-op for
    the rest. Returns how many were queued."""
    queued = 0
    for row in await listed(session):
        key, payload, event_id = token_changed(row)
        queued += await outbox.add(session, Topic.API_TOKEN_CHANGED, key, payload, event_id=event_id)
    return queued


async def _publish(outbox: Outbox, session: AsyncSession, row: ApiToken) -> None:
    key, payload, event_id = token_changed(row)
    await outbox.add(session, Topic.API_TOKEN_CHANGED, key, payload, event_id=event_id)
