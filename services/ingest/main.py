"""The ingest service: wiring only."""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime

from fastapi import FastAPI

from services.ingest import endpoints
from services.ingest.feeds import Limits, parse_file, preflight
from services.ingest.models import jobs, messaging, tokens
from services.ingest.runs import endpoints as run_endpoints
from services.ingest.runs import repository as run_repository
from services.ingest.runs.config import load_feeds
from services.ingest.runs.scheduler import run_schedule
from services.ingest.runs.service import FeedRunner
from services.ingest.settings import IngestSettings
from shared.auth import replicate_tokens
from shared.jobs import Jobs
from shared.runtime import ServiceRuntime, build_app
from shared.settings import PlatformSettings


def create_app(settings: IngestSettings | None = None, platform: PlatformSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    runtime = ServiceRuntime("ingest", settings, platform or PlatformSettings(), messaging)
    feeds = load_feeds(settings.feeds_file)
    limits = Limits(settings.xlsx_inflated_bytes, settings.xlsx_inflate_ratio, settings.cell_chars, settings.blank_rows)
    parser, glance = functools.partial(parse_file, limits=limits), functools.partial(preflight, limits=limits)
    runner = FeedRunner(runtime.db, runtime.outbox, parser, settings.work_dir, glance)
    uploads = Jobs(runtime.db, jobs, concurrency=settings.upload_jobs)  # runs/uploads.py
    runtime.serving.append(uploads.run)  # an upload runs where it landed: the api

    async def last_started() -> dict[str, datetime]:
        async with runtime.db.sessions() as session:
            return await run_repository.last_started(session)

    async def scheduled(stop: asyncio.Event) -> None:
        await run_schedule(stop, feeds, last_started, runner.run)

    if settings.scheduler_enabled and feeds:
        runtime.background.append(scheduled)
    replicate_tokens(runtime, tokens)  # tokens made or revoked in rules work or stop here too
    app = build_app(runtime, [endpoints.router, run_endpoints.router], title="certwatch ingest")
    app.state.feeds, app.state.feed_runner, app.state.jobs, app.state.settings = feeds, runner, uploads, settings
    return app
