"""Who is calling (shared/auth.py) without I/O: the settings' administrator token and hashed tokens are
known without the database, a missing token is a 401 unless the checks are off for development (refused
elsewhere), the role matrix, and what rules publishes for a token made or revoked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.auth import (
    ALLOWED,
    DEVELOPER,
    SETTINGS_ADMIN,
    STAFF,
    Action,
    Actor,
    AuthSettings,
    Role,
    authenticate,
    digest,
    hashed_entry,
    mask_name,
    parse_hashed_tokens,
    token_changed,
)
from shared.contracts.rules import ApiTokenChanged
from shared.errors import Forbidden, Unauthorized


class NoDatabase:
    """A session that fails the test if it is used: these tokens are known without the database."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the database was asked ({name}) for a token the settings know")


def auth(**values: Any) -> AuthSettings:
    return AuthSettings(_env_file=None, **values)


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "CERTWATCH_AUTH_ADMIN_TOKEN",
        "CERTWATCH_RULES_ADMIN_TOKEN",
        "CERTWATCH_AUTH_TOKENS",
        "CERTWATCH_AUTH_OFF_FOR_DEVELOPMENT",
        "CERTWATCH_ENVIRONMENT",
    ):
        monkeypatch.delenv(name, raising=False)


async def test_the_settings_administrator_token_is_the_admin_actor() -> None:
    settings = auth(admin_token="s3cret-admin")
    actor = await authenticate(NoDatabase(), settings, "s3cret-admin")  # type: ignore[arg-type]
    assert actor == Actor(SETTINGS_ADMIN, Role.ADMINISTRATOR)
    assert not actor.can(Action.DECIDE) and actor.can(Action.MANAGE_TOKENS)


async def test_a_hashed_settings_token_is_its_named_actor_with_its_role() -> None:
    settings = auth(
        api_tokens=",".join(
            [hashed_entry("stack-feed", Role.FEED, "feed-token"), hashed_entry("samr", Role.REGULATOR, "samr-token")]
        )
    )
    assert await authenticate(NoDatabase(), settings, "samr-token") == Actor("samr", Role.REGULATOR)  # type: ignore[arg-type]
    assert await authenticate(NoDatabase(), settings, "feed-token") == Actor("stack-feed", Role.FEED)  # type: ignore[arg-type]


@pytest.mark.parametrize("token", [None, ""])
async def test_no_token_is_a_401_saying_how_to_get_one(token: str | None) -> None:
    with pytest.raises(Unauthorized, match="Authorization: Bearer <token>"):
        await authenticate(NoDatabase(), auth(admin_token="a"), token)  # type: ignore[arg-type]


async def test_with_the_checks_off_for_development_no_token_is_the_unrestricted_developer() -> None:
    actor = await authenticate(NoDatabase(), auth(auth_off_for_development=True), None)  # type: ignore[arg-type]
    assert actor is DEVELOPER and all(actor.can(action) for action in Action)


@pytest.mark.parametrize("environment", ["production", "test", "staging"])
def test_turning_the_checks_off_is_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.setenv("CERTWATCH_ENVIRONMENT", environment)
    with pytest.raises(ValidationError, match=f"refused in environment '{environment}'"):
        auth(auth_off_for_development=True)
    assert not auth().auth_off_for_development  # leaving them on is fine anywhere


def test_a_bad_hashed_token_entry_fails_at_start_naming_it() -> None:
    with pytest.raises(ValidationError, match="'stack-feed' is not name:role:sha256hex"):
        auth(api_tokens=f"stack-feed:feed:{digest('x').upper()}")  # upper-case hex is not how digests are written


def test_the_admin_token_is_still_read_from_its_old_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTWATCH_RULES_ADMIN_TOKEN", "old-name")
    settings = auth()
    assert settings.admin_token is not None and settings.admin_token.get_secret_value() == "old-name"
    assert "old-name" not in repr(settings)  # a secret never shows in a log line


@given(token=st.text(min_size=1, max_size=64))
def test_a_hashed_entry_parses_back_to_its_name_role_and_digest(token: str) -> None:
    for role in Role:
        [entry] = parse_hashed_tokens(hashed_entry("someone", role, token))
        assert (entry.name, entry.role, entry.sha256) == ("someone", role, digest(token))
        assert len(entry.sha256) == 64


def test_empty_and_blank_entries_are_no_tokens() -> None:
    assert parse_hashed_tokens("") == [] and parse_hashed_tokens(" , ,") == []


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_each_role_may_do_what_the_matrix_says_and_a_refusal_names_who_may(role: Role, action: Action) -> None:
    actor = Actor("someone", role)
    assert actor.can(action) == (role in ALLOWED[action])
    if actor.can(action):
        actor.may(action)
    else:
        with pytest.raises(Forbidden) as refused:
            actor.may(action)
        assert f"someone ({role}) may not {action.value}" in refused.value.message
        assert all(allowed in refused.value.message for allowed in ALLOWED[action])


def test_the_matrix_keeps_its_separations() -> None:
    """Deciding is the decision-maker's alone; administrators keep the registry and tokens but decide nothing;
    regulators and feeds never see personal data; a feed never reads risk events."""
    assert ALLOWED[Action.DECIDE] == {Role.DECISION_MAKER}
    assert Role.ADMINISTRATOR not in ALLOWED[Action.REVIEW] | ALLOWED[Action.DECIDE]
    assert ALLOWED[Action.SEE_PERSONAL_DATA] == STAFF
    assert Role.FEED not in ALLOWED[Action.READ] and Role.FEED in ALLOWED[Action.WRITE_SIGNALS]
    assert all(
        Role.REGULATOR not in roles
        for action, roles in ALLOWED.items()
        if action not in {Action.READ, Action.READ_FEEDS}
    )


def _row(revoked: datetime | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        id=uuid.UUID(int=7),
        name="dm-wang",
        role="decision_maker",
        token_hash=digest("t"),
        created_by="admin",
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
        revoked_at=revoked,
    )


def test_a_token_made_and_revoked_are_two_events_each_with_an_id_of_its_own_that_a_replay_repeats() -> None:
    key, made, made_id = token_changed(_row())
    _, revoked, revoked_id = token_changed(_row(datetime(2026, 11, 2, tzinfo=UTC)))
    assert key == str(uuid.UUID(int=7)) and isinstance(made, ApiTokenChanged)
    assert made.revoked_at is None and revoked.revoked_at is not None
    assert made_id != revoked_id and token_changed(_row())[2] == made_id
    assert made.token_hash == digest("t") and set(made.model_dump()) == set(ApiTokenChanged.model_fields)


@pytest.mark.parametrize(("name", "masked"), [("王建国", "王**"), ("Li", "L**"), ("", "")])
def test_a_contacts_name_keeps_its_first_character(name: str, masked: str) -> None:
    assert mask_name(name) == masked
