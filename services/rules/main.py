"""The rules service: wiring only."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI

from services.rules import consumers
from services.rules.access import endpoints as access
from services.rules.access import service as tokens
from services.rules.matcher.index import MatchThresholds
from services.rules.matcher.live import LiveIndex
from services.rules.models import jobs, messaging
from services.rules.registry import endpoints as registry
from services.rules.review import decisions
from services.rules.review import endpoints as review
from services.rules.screening import endpoints as screening
from services.rules.settings import RulesSettings
from services.rules.sweep import endpoints as sweep
from shared.jobs import Jobs
from shared.runtime import ServiceRuntime, build_app
from shared.settings import PlatformSettings

TOKENS_CHECK_SECONDS = 300.0  # at start, then this often: publish tokens the other services never heard of


def create_app(settings: RulesSettings | None = None, platform: PlatformSettings | None = None) -> FastAPI:
    settings = settings or RulesSettings()
    runtime = ServiceRuntime("rules", settings, platform or PlatformSettings(), messaging)
    live = LiveIndex(runtime.db, MatchThresholds(settings.match_threshold, settings.review_threshold))
    runtime.background.append(live.run)
    runtime.commit_hooks.append(lambda: setattr(live, "dirty", True))
    consumers.register(runtime, live)
    runtime.every(
        settings.suspension_check_seconds,
        lambda session: decisions.reopen_expired(session, runtime.outbox, datetime.now(UTC).date()),
        "reopening events whose suspension ended",
    )
    runtime.every(TOKENS_CHECK_SECONDS, lambda session: tokens.publish_missing(session, runtime.outbox),
                  "publishing tokens the other services have not heard of")  # fmt: skip
    imports = Jobs(runtime.db, jobs)  # registry imports, one at a time (registry/jobs.py)
    runtime.background.append(imports.run)
    app = build_app(
        runtime,
        [registry.router, review.router, screening.router, access.router, sweep.router],
        title="certwatch rules",
    )
    app.state.live_index, app.state.jobs = live, imports
    return app
