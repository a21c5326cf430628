"""The rules service: wiring only."""

from __future__ import annotations

from fastapi import FastAPI

from services.rules import consumers, endpoints
from services.rules.models import messaging
from services.rules.settings import RulesSettings
from shared.runtime import ServiceRuntime, build_app
from shared.settings import PlatformSettings


def create_app(settings: RulesSettings | None = None, platform: PlatformSettings | None = None) -> FastAPI:
    runtime = ServiceRuntime("rules", settings or RulesSettings(), platform or PlatformSettings(), messaging)
    consumers.register(runtime)
    return build_app(runtime, [endpoints.router], title="certwatch rules")
