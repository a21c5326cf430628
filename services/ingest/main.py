"""The ingest service: wiring only."""

from __future__ import annotations

from fastapi import FastAPI

from services.ingest import endpoints
from services.ingest.models import messaging
from services.ingest.settings import IngestSettings
from shared.runtime import ServiceRuntime, build_app
from shared.settings import PlatformSettings


def create_app(settings: IngestSettings | None = None, platform: PlatformSettings | None = None) -> FastAPI:
    runtime = ServiceRuntime(
        "ingest", settings or IngestSettings(), platform or PlatformSettings(), messaging
    )
    return build_app(runtime, [endpoints.router], title="certwatch ingest")
