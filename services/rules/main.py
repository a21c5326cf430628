"""The rules service: wiring only."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from services.rules import consumers
from services.rules.access import endpoints as access
from services.rules.access import service as tokens
from services.rules.matcher.index import MatchThresholds, RegistryIndex
from services.rules.models import jobs, messaging
from services.rules.registry import endpoints as registry
from services.rules.registry.live_index import LiveIndex
from services.rules.review import decisions
from services.rules.review import endpoints as review
from services.rules.screening import endpoints as screening
from services.rules.settings import RulesSettings
from services.rules.sweep import endpoints as sweep
from shared import workdays
from shared.jobs import Jobs
from shared.runtime import ServiceRuntime, build_app
from shared.settings import PlatformSettings

TOKENS_CHECK_SECONDS = 300.0  # at start, then this often: publish tokens the other services never heard of
REGISTRY_CHANGED = "registry_changed"  # the api's writes, heard by the worker's matcher index at once


class OnDemandIndex(LiveIndex):
    """The api's index (role api): built at the first request that matches (screening, replay, a sweep),
    then kept fresh like the worker's. Until then it costs nothing; built, it costs what the worker's does
    (1.3 GB at 1M organisations, README Performance)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.wanted = asyncio.Event()

    async def current(self) -> RegistryIndex:
        self.wanted.set()
        return await super().current()

    async def run(self, stop: asyncio.Event) -> None:
        waiting, stopping = asyncio.ensure_future(self.wanted.wait()), asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait((waiting, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
            stopping.cancel()
        if not stop.is_set():
            await super().run(stop)


def create_app(settings: RulesSettings | None = None, platform: PlatformSettings | None = None) -> FastAPI:
    settings = settings or RulesSettings()
    runtime = ServiceRuntime("rules", settings, platform or PlatformSettings(), messaging)
    thresholds = MatchThresholds(settings.match_threshold, settings.review_threshold)
    live = OnDemandIndex(runtime.db, thresholds) if runtime.role == "api" else LiveIndex(runtime.db, thresholds)
    (runtime.serving if runtime.role == "api" else runtime.background).append(live.run)
    runtime.commit_hooks.append(lambda: setattr(live, "dirty", True))
    if runtime.split:  # an import or an edit in the api: the worker matches the next signal against it
        runtime.commit_hooks.append(lambda: runtime.notify(REGISTRY_CHANGED))
        runtime.listen(REGISTRY_CHANGED, lambda: setattr(live, "dirty", True))
    consumers.register(runtime, live)
    runtime.every(
        settings.suspension_check_seconds,
        lambda session: decisions.reopen_expired(session, runtime.outbox, workdays.today()),
        "reopening events whose suspension ended",
    )
    runtime.every(
        TOKENS_CHECK_SECONDS,
        lambda session: tokens.publish_missing(session, runtime.outbox),
        "publishing tokens the other services have not heard of",
    )
    imports = Jobs(runtime.db, jobs)  # registry imports, one at a time (registry/jobs.py), where they landed: the api
    runtime.serving.append(imports.run)
    app = build_app(
        runtime,
        [registry.router, review.router, screening.router, access.router, sweep.router],
        title="certwatch rules",
    )
    app.state.live_index, app.state.jobs = live, imports
    return app
