"""The caller of a write, and the token API (administrators only)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.access import service
from services.rules.access.service import Action, Actor, Role
from shared.db.session import ReadSession, WriteSession

_bearer = HTTPBearer(auto_error=False, description="a token from `certwatch rules token-create`")


async def _authenticated(
    request: Request, session: AsyncSession, credentials: HTTPAuthorizationCredentials | None
) -> Actor:
    admin = request.app.state.runtime.settings.admin_token
    return await service.authenticate(
        session, credentials.credentials if credentials else None, admin.get_secret_value() if admin else None
    )


async def _actor(
    request: Request, session: WriteSession, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Actor:
    return await _authenticated(request, session, credentials)


async def reader(
    request: Request, session: ReadSession, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> None:
    """Reads need a token (any role: the regulator's is for reading) when `reads_need_token` is set. A
    token that is sent is always checked: a wrong or revoked one is a 401, even where none is needed."""
    if request.app.state.runtime.settings.reads_need_token or credentials is not None:
        await _authenticated(request, session, credentials)


READ = Depends(reader)


def allowed(action: Action) -> Any:
    """A dependency: the authenticated caller, if its role may do `action` (else 401 or 403)."""

    async def check(actor: Annotated[Actor, Depends(_actor)]) -> Actor:
        actor.may(action)
        return actor

    return Depends(check)


router = APIRouter(tags=["access"])


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
    body: TokenIn, session: WriteSession, actor: Annotated[Actor, allowed(Action.MANAGE_TOKENS)]
) -> TokenCreated:
    """A token for a person or system with one role; the token is in this answer only."""
    row, token = await service.create(session, body.name, body.role, actor.name)
    return TokenCreated(**TokenRead.model_validate(row).model_dump(), token=token)


@router.get("/tokens", response_model=list[TokenRead])
async def list_tokens(session: WriteSession, _: Annotated[Actor, allowed(Action.MANAGE_TOKENS)]) -> list[TokenRead]:
    """Every token made, revoked ones too (never the tokens themselves)."""
    return [TokenRead.model_validate(t) for t in await service.listed(session)]


@router.delete("/tokens/{token_id}", response_model=TokenRead)
async def revoke_token(
    token_id: uuid.UUID, session: WriteSession, _: Annotated[Actor, allowed(Action.MANAGE_TOKENS)]
) -> TokenRead:
    """Revoke a token: it stops working at once."""
    return TokenRead.model_validate(await service.revoke(session, token_id))
