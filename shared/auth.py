"""One authentication for every service: bearer tokens, roles, and who may do what (DESIGN.md §6).

A caller sends `Authorization: Bearer <token>`. A token is one of:

- the administrator token of the settings (`CERTWATCH_AUTH_ADMIN_TOKEN`), which makes the others;
- a hashed entry of the settings (`CERTWATCH_AUTH_TOKENS="name:role:sha256,…"`), for systems configured
  at deploy time (the local stack's feed writer);
- a token made through the rules service's token API. rules owns those (`api_tokens`) and publishes each
  change on `rules.api-token-changed.v1`; every other service keeps a copy in its own `api_tokens` table
  (`replicate_tokens`), so a token made or revoked once works or stops everywhere, without any service
  reading another's tables.

Only SHA-256 digests are stored or published (a random 256-bit token needs no slow hash). A missing token
is a 401, and so is a wrong or revoked one, on every route but the probes, metrics and docs; a role that may
not do something is a 403 naming the role it needs. Checks are off only with
`CERTWATCH_AUTH_OFF_FOR_DEVELOPMENT=true`, which is refused outside `CERTWATCH_ENVIRONMENT=development`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Column, DateTime, MetaData, String, Table, Uuid, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts import Envelope, Topic
from shared.contracts.rules import ApiTokenChanged
from shared.errors import Forbidden, Unauthorized
from shared.logging import mask_email, mask_phone
from shared.responses import errors

if TYPE_CHECKING:
    from shared.runtime import ServiceRuntime


class Role(StrEnum):
    REVIEWER = "reviewer"  # assigns, comments, confirms or rejects matches
    DECISION_MAKER = "decision_maker"  # and decides and closes
    ADMINISTRATOR = "administrator"  # maintains the registry, the feeds and the tokens; decides nothing
    REGULATOR = "regulator"  # reads only, contacts masked
    FEED = "feed"  # a system that writes signals and files to ingest, and reads what ingest holds


class Action(StrEnum):
    READ = "read risk events, the registry, deliveries and reports"
    READ_FEEDS = "read feeds, feed runs and signals"
    WRITE_SIGNALS = "write signals, run feeds and upload files"
    SEE_PERSONAL_DATA = "see contacts and recipients unmasked"
    MAINTAIN_REGISTRY = "maintain the registry"
    REVIEW = "review risk events"
    DECIDE = "decide risk events"
    MANAGE_TOKENS = "manage tokens"
    RAISE_FROM_REPLAY = "raise risk events from replayed signals"
    RUN_SWEEP = "run a campaign sweep"


STAFF = frozenset({Role.REVIEWER, Role.DECISION_MAKER, Role.ADMINISTRATOR})
ALLOWED: dict[Action, frozenset[Role]] = {
    Action.READ: STAFF | {Role.REGULATOR},
    Action.READ_FEEDS: STAFF | {Role.REGULATOR, Role.FEED},
    Action.WRITE_SIGNALS: frozenset({Role.FEED, Role.ADMINISTRATOR}),
    # Reviewers and decision-makers contact an organisation about its events; administrators keep the contacts.
    Action.SEE_PERSONAL_DATA: STAFF,
    Action.MAINTAIN_REGISTRY: frozenset({Role.ADMINISTRATOR}),
    Action.REVIEW: frozenset({Role.REVIEWER, Role.DECISION_MAKER}),
    Action.DECIDE: frozenset({Role.DECISION_MAKER}),
    Action.MANAGE_TOKENS: frozenset({Role.ADMINISTRATOR}),
    Action.RAISE_FROM_REPLAY: frozenset({Role.ADMINISTRATOR}),
    Action.RUN_SWEEP: frozenset({Role.DECISION_MAKER, Role.ADMINISTRATOR}),  # it raises what is missing
}
SETTINGS_ADMIN = "admin"  # the actor name of the settings' administrator token


@dataclass(frozen=True)
class Actor:
    name: str
    role: Role
    unrestricted: bool = False  # only with the checks off for development

    def can(self, action: Action) -> bool:
        return self.unrestricted or self.role in ALLOWED[action]

    def may(self, action: Action) -> None:
        if not self.can(action):
            allowed = " or ".join(sorted(ALLOWED[action]))
            raise Forbidden(f"{self.name} ({self.role}) may not {action.value}: that needs {allowed}")


DEVELOPER = Actor("development", Role.ADMINISTRATOR, unrestricted=True)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- the token store -----------------------------------------------------------------------------------------


def token_columns() -> list[Column[Any]]:
    """The columns of every service's `api_tokens` table (rules' own, and the copies)."""
    return [
        Column("id", Uuid, primary_key=True),
        Column("name", String(100), nullable=False),  # the actor the audit trails name
        Column("role", String(30), nullable=False),
        Column("token_hash", String(64), nullable=False, unique=True),
        Column("created_by", String(100), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("revoked_at", DateTime(timezone=True)),
    ]


def token_table(metadata: MetaData) -> Table:
    """A service's copy of the tokens, kept by `replicate_tokens`."""
    return Table("api_tokens", metadata, *token_columns())


TOKENS = token_table(MetaData())  # the shape queried in any service's schema (its search_path picks the table)


@dataclass(frozen=True)
class HashedToken:
    name: str
    role: Role
    sha256: str


class AuthSettings(BaseSettings):
    """Mixed into every service's settings; the same environment variables for all four."""

    model_config = SettingsConfigDict(populate_by_name=True)

    admin_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("certwatch_auth_admin_token", "certwatch_rules_admin_token"),
        description="an administrator's bearer token, to make the other tokens (a secret: never in the repo); "
        "CERTWATCH_RULES_ADMIN_TOKEN is still read",
    )
    api_tokens: str = Field(
        default="",
        validation_alias=AliasChoices("certwatch_auth_tokens"),
        description="tokens known without the database: `name:role:sha256hex`, comma-separated",
    )
    auth_off_for_development: bool = Field(
        default=False,
        validation_alias=AliasChoices("certwatch_auth_off_for_development"),
        description="no token needed (every caller may do everything): only with CERTWATCH_ENVIRONMENT=development",
    )

    @field_validator("api_tokens")
    @classmethod
    def _entries_parse(cls, value: str) -> str:
        parse_hashed_tokens(value)  # a bad entry fails at start, saying which
        return value

    @model_validator(mode="after")
    def _off_only_in_development(self) -> AuthSettings:
        environment = os.environ.get("CERTWATCH_ENVIRONMENT", "development")
        if self.auth_off_for_development and environment != "development":
            raise ValueError(f"CERTWATCH_AUTH_OFF_FOR_DEVELOPMENT is refused in environment {environment!r}")
        return self

    def hashed_tokens(self) -> list[HashedToken]:
        return parse_hashed_tokens(self.api_tokens)


def parse_hashed_tokens(value: str) -> list[HashedToken]:
    entries = []
    for entry in filter(None, (e.strip() for e in value.split(","))):
        name, _, rest = entry.partition(":")
        role, _, sha256 = rest.partition(":")
        if not name or role not in set(Role) or len(sha256) != 64 or set(sha256) - set("0123456789abcdef"):
            raise ValueError(f"CERTWATCH_AUTH_TOKENS: {name or entry[:20]!r} is not name:role:sha256hex")
        entries.append(HashedToken(name, Role(role), sha256))
    return entries


def hashed_entry(name: str, role: Role, token: str) -> str:
    """The settings entry for `token` (`CERTWATCH_AUTH_TOKENS`)."""
    return f"{name}:{role.value}:{digest(token)}"


async def lookup(session: AsyncSession, token: str) -> Actor | None:
    row = (
        await session.execute(
            select(TOKENS.c.name, TOKENS.c.role).where(
                TOKENS.c.token_hash == digest(token), TOKENS.c.revoked_at.is_(None)
            )
        )
    ).first()
    return Actor(row.name, Role(row.role)) if row else None


async def authenticate(session: AsyncSession, settings: AuthSettings, token: str | None) -> Actor:
    if not token:
        if settings.auth_off_for_development:
            return DEVELOPER
        raise Unauthorized("this needs a bearer token: Authorization: Bearer <token> (certwatch rules token-create)")
    admin = settings.admin_token.get_secret_value() if settings.admin_token else None
    if admin and hmac.compare_digest(token.encode(), admin.encode()):
        return Actor(SETTINGS_ADMIN, Role.ADMINISTRATOR)
    hashed = digest(token)
    for entry in settings.hashed_tokens():
        if hmac.compare_digest(hashed, entry.sha256):
            return Actor(entry.name, entry.role)
    found = await lookup(session, token)
    if found is None:
        raise Unauthorized("unknown or revoked token")
    return found


# --- the FastAPI side ----------------------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="a token from `certwatch rules token-create`")


async def caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Actor:
    """Who is calling: checked in a short session of its own, released before the route runs."""
    runtime = request.app.state.runtime
    async with runtime.db.sessions() as session:
        return await authenticate(session, runtime.settings, credentials.credentials if credentials else None)


def allowed(action: Action) -> Any:
    """A dependency: the authenticated caller, if its role may do `action` (else 401 or 403)."""

    async def check(actor: Annotated[Actor, Depends(caller)]) -> Actor:
        actor.may(action)
        return actor

    return Depends(check)


RESPONSES = errors(400, 401, 403, 422)  # every authenticated router declares them (a NUL in a query is a 422 too)


# --- personal data -------------------------------------------------------------------------------------------


def mask_name(name: str) -> str:
    """王** : a contact's name, masked."""
    return f"{name[:1]}**" if name else name


def masked_contact(contact: dict[str, Any]) -> dict[str, Any]:
    """A contact with its name, email and mobile masked (for roles that do not need them)."""
    masked = dict(contact)
    if masked.get("name"):
        masked["name"] = mask_name(str(masked["name"]))
    if masked.get("email"):
        masked["email"] = mask_email(str(masked["email"]))
    if masked.get("mobile"):
        masked["mobile"] = mask_phone(str(masked["mobile"]))
    return masked


# --- replication ---------------------------------------------------------------------------------------------


def token_changed(row: Any) -> tuple[str, ApiTokenChanged, uuid.UUID]:
    """What rules publishes for a token row: the key, the payload and a deterministic event id."""
    payload = ApiTokenChanged(
        token_id=row.id,
        name=row.name,
        role=row.role,
        token_hash=row.token_hash,
        created_by=row.created_by,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )
    event_id = uuid.uuid5(row.id, "revoked" if row.revoked_at else "created")
    return str(row.id), payload, event_id


async def keep_token(session: AsyncSession, table: Table, token: ApiTokenChanged) -> None:
    """Upsert a token into this service's copy; a revocation is never undone by an older message."""
    values = token.model_dump(exclude={"token_id"}) | {"id": token.token_id}
    stmt = insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={"revoked_at": func.coalesce(table.c.revoked_at, stmt.excluded.revoked_at)},
    )
    await session.execute(stmt)


def replicate_tokens(runtime: ServiceRuntime, table: Table) -> None:
    """Keep this service's copy of the tokens from rules' `api-token-changed` events."""

    @runtime.consumer.handles(Topic.API_TOKEN_CHANGED)
    async def on_api_token_changed(event: Envelope[ApiTokenChanged], session: AsyncSession) -> None:
        """Keep a token made or revoked in rules, so it works (or stops) here too."""
        await keep_token(session, table, event.payload)
