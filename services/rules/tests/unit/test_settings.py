"""Typed settings (shared/settings.py and each service's): defaults drawn from the service, values from the
environment with the service's prefix, and a start refused in production with a placeholder secret."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.rules.settings import RulesSettings
from shared.settings import PlatformSettings


def rules(**values: Any) -> RulesSettings:
    return RulesSettings(_env_file=None, **values)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("CERTWATCH_"):
            monkeypatch.delenv(name)


def test_a_service_names_its_schema_and_consumer_group_after_itself() -> None:
    settings = rules()
    assert (settings.database_schema, settings.consumer_group) == ("rules", "certwatch-rules")
    assert settings.url == "http://127.0.0.1:8102"
    assert rules(database_schema="rules_b", consumer_group="g").consumer_group == "g"


def test_the_base_url_wins_without_its_trailing_slash() -> None:
    assert rules(base_url="https://rules.example/").url == "https://rules.example"


def test_values_come_from_the_environment_with_the_services_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTWATCH_RULES_PORT", "9102")
    monkeypatch.setenv("CERTWATCH_RULES_MATCH_THRESHOLD", "0.95")
    monkeypatch.setenv("CERTWATCH_RULES_DATABASE_URL", "postgresql+asyncpg://r:pw@db/certwatch")
    settings = rules()
    assert (settings.port, settings.match_threshold) == (9102, 0.95)
    assert settings.sqlalchemy_url == "postgresql+asyncpg://r:pw@db/certwatch"
    assert "pw@db" not in repr(settings)


@pytest.mark.parametrize("field", ["match_threshold", "review_threshold"])
@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_a_threshold_outside_0_to_1_is_refused(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        rules(**{field: value})


def test_a_suspension_check_interval_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="suspension_check_seconds"):
        rules(suspension_check_seconds=0)


@pytest.mark.parametrize("url", ["", "postgresql+asyncpg://rules:changeme@db/certwatch"])
def test_production_refuses_to_start_without_a_real_database_url(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("CERTWATCH_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="rules: set a real database_url in production"):
        rules(database_url=url)
    assert rules(database_url="postgresql+asyncpg://rules:Xq9…@db/certwatch").sqlalchemy_url


def test_development_starts_with_the_placeholder() -> None:
    assert rules(database_url="postgresql+asyncpg://rules:changeme@db/certwatch").database_schema == "rules"


def test_the_platform_prefixes_every_topic_and_reads_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTWATCH_KAFKA_TOPIC_PREFIX", "tenant-a.")
    monkeypatch.setenv("CERTWATCH_KAFKA_ENABLE_IDEMPOTENCE", "false")
    platform = PlatformSettings(_env_file=None)
    assert platform.topic("rules.risk-event-raised.v1") == "tenant-a.rules.risk-event-raised.v1"
    assert platform.kafka_enable_idempotence is False and platform.environment == "development"


def test_an_unknown_environment_variable_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTWATCH_RULES_NOT_A_SETTING", "x")
    assert not hasattr(rules(), "not_a_setting")
