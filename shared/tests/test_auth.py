"""Roles, hashed settings tokens and masking: shared/auth.py without I/O."""

from __future__ import annotations

import pytest

from shared.auth import ALLOWED, Action, Actor, Role, digest, hashed_entry, masked_contact, parse_hashed_tokens
from shared.errors import Forbidden


def test_every_action_names_its_roles_and_a_refusal_names_the_role_needed() -> None:
    assert set(ALLOWED) == set(Action)
    assert Actor("feeder", Role.FEED).can(Action.WRITE_SIGNALS) and not Actor("feeder", Role.FEED).can(Action.READ)
    with pytest.raises(Forbidden, match=r"samr \(regulator\) may not decide risk events: that needs decision_maker"):
        Actor("samr", Role.REGULATOR).may(Action.DECIDE)
    assert Actor("dev", Role.ADMINISTRATOR, unrestricted=True).can(Action.DECIDE)


def test_hashed_settings_tokens_parse_and_refuse_what_is_not_one() -> None:
    entry = hashed_entry("stack-feed", Role.FEED, "s3cret")
    [parsed] = parse_hashed_tokens(f" {entry} ,")
    assert (parsed.name, parsed.role, parsed.sha256) == ("stack-feed", Role.FEED, digest("s3cret"))
    for bad in ("x:feed:abc", f"x:superuser:{digest('t')}", f":feed:{digest('t')}", "s3cret"):
        with pytest.raises(ValueError, match="not name:role:sha256hex"):
            parse_hashed_tokens(bad)


def test_a_contact_is_masked_field_by_field() -> None:
    contact = {"name": "王建国", "email": "wang@hongyuan.example", "mobile": "+86 138 0013 8000", "language": "zh-CN"}
    assert masked_contact(contact) == {
        "name": "王**", "email": "w***@hongyuan.example", "mobile": "138****8000", "language": "zh-CN",
    }  # fmt: skip
    assert masked_contact({"name": None, "email": None}) == {"name": None, "email": None}
