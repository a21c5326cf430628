"""The token API (administrators only). Who may call what is decided in `shared/auth.py`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from services.rules.access import service
from shared.auth import RESPONSES, Action, Actor, Role, allowed
from shared.db.session import WriteSession
from shared.dependencies import OutboxDep
from shared.responses import errors

router = APIRouter(tags=["access"], responses=RESPONSES)


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="the person or system: audit trails name it")
    role: Role


class TokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    role: str
    created_by: str
    created_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="shown this once; only its hash is kept")


@router.post("/tokens", response_model=TokenCreated, status_code=201)
async def create_token(
    body: TokenIn, session: WriteSession, outbox: OutboxDep, actor: Annotated[Actor, allowed(Action.MANAGE_TOKENS)]
) -> TokenCreated:
    """A token for a person or system with one role; the token is in this answer only. Every service
    accepts it within a moment (rules.api-token-changed.v1)."""
    row, token = await service.create(session, outbox, body.name, body.role, actor.name)
    return TokenCreated(**TokenRead.model_validate(row).model_dump(), token=token)


@router.get("/tokens", response_model=list[TokenRead])
async def list_tokens(session: WriteSession, _: Annotated[Actor, allowed(Action.MANAGE_TOKENS)]) -> list[TokenRead]:
    """Every token made, revoked ones too (never the tokens themselves)."""
    return [TokenRead.model_validate(t) for t in await service.listed(session)]


@router.delete("/tokens/{token_id}", response_model=TokenRead, responses=errors(404))
async def revoke_token(
    token_id: Annotated[uuid.UUID, Path()],
    session: WriteSession,
    outbox: OutboxDep,
    _: Annotated[Actor, allowed(Action.MANAGE_TOKENS)],
) -> TokenRead:
    """Revoke a token: it stops working here at once, and in the other services within a moment."""
    return TokenRead.model_validate(await service.revoke(session, outbox, token_id))
