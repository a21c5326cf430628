"""The reporting service: wiring only."""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting import consumers, endpoints
from services.reporting.models import messaging, tokens
from services.reporting.settings import ReportingSettings
from shared.auth import replicate_tokens
from shared.runtime import ServiceRuntime, build_app
from shared.settings import PlatformSettings


def create_app(settings: ReportingSettings | None = None, platform: PlatformSettings | None = None) -> FastAPI:
    runtime = ServiceRuntime("reporting", settings or ReportingSettings(), platform or PlatformSettings(), messaging)
    consumers.register(runtime)
    replicate_tokens(runtime, tokens)  # tokens made or revoked in rules work or stop here too
    return build_app(runtime, [endpoints.router], title="certwatch reporting")
