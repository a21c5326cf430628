"""The four services, by name: their folders, settings and app factories."""

from __future__ import annotations

import importlib
from pathlib import Path

from shared.settings import ServiceSettings

SERVICES = ("ingest", "rules", "notify", "reporting")
_SETTINGS = {
    "ingest": "services.ingest.settings:IngestSettings",
    "rules": "services.rules.settings:RulesSettings",
    "notify": "services.notify.settings:NotifySettings",
    "reporting": "services.reporting.settings:ReportingSettings",
}


def _load(path: str) -> object:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def settings_class(service: str) -> type[ServiceSettings]:
    cls = _load(_SETTINGS[service])
    assert isinstance(cls, type) and issubclass(cls, ServiceSettings)
    return cls


def settings_of(service: str) -> ServiceSettings:
    return settings_class(service)()


def folder_of(service: str) -> Path:
    return Path(__file__).resolve().parent.parent / "services" / service


def app_factory(service: str) -> str:
    return f"services.{service}.main:create_app"


def bearer(token: str | None = None) -> dict[str, str]:
    """Authorization headers for any service: `token`, else the administrator token of the settings
    (CERTWATCH_AUTH_ADMIN_TOKEN, in the local stack's stack.env), else none."""
    if not token:
        from services.rules.settings import RulesSettings

        admin = RulesSettings().admin_token
        token = admin.get_secret_value() if admin else None
    return {"Authorization": f"Bearer {token}"} if token else {}
