"""What every service process runs: database, producer, outbox relay, consumer, and the HTTP app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.base import MessagingTables
from shared.db.session import Database
from shared.errors import install_error_handler
from shared.kafka.consumer import Consumer
from shared.kafka.outbox import Outbox, OutboxRelay
from shared.kafka.producer import Producer
from shared.logging import configure_logging
from shared.nul import RefuseNul
from shared.observability import ReadinessCheck, install_observability
from shared.responses import install_allow_header
from shared.settings import PlatformSettings, ServiceSettings
from shared.waiting import sleep_unless

log = logging.getLogger(__name__)

Hook = Callable[["ServiceRuntime"], Awaitable[None]]


class ServiceRuntime:
    """Owns the long-lived parts of one service and their start and graceful stop."""

    def __init__(
        self, service: str, settings: ServiceSettings, platform: PlatformSettings, tables: MessagingTables
    ) -> None:
        self.service = service
        self.settings = settings
        self.platform = platform
        self.db = Database(settings)
        self.producer = Producer(platform, client_id=f"certwatch-{service}")
        self.outbox = Outbox(tables.outbox, producer_name=service)
        self.relay = OutboxRelay(
            self.db, self.producer, tables.outbox, service, settings.outbox_poll_seconds,
            settings.consumer_backoff_max_seconds,
        )  # fmt: skip
        self.consumer = Consumer(service, platform, settings, self.db, tables.inbox, self.producer)
        self.consumer.after_commit = self._consumer_committed
        self.on_start: list[Hook] = []
        self.commit_hooks: list[Callable[[], None]] = []
        self.background: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.producer.start()
        for hook in self.on_start:
            await hook(self)
        loops: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = [self.relay.run, *self.background]
        if self.settings.run_consumers:
            loops.append(self.consumer.run)
        self._tasks = [asyncio.create_task(loop(self._stop), name=f"{self.service}:{loop}") for loop in loops]
        log.info("%s started", self.service)

    async def stop(self) -> None:
        """Finish the message in hand, publish what is committed, then close connections."""
        self._stop.set()
        await asyncio.wait(self._tasks, timeout=10)
        for task in self._tasks:
            task.cancel()
        await self.producer.stop()
        await self.db.dispose()
        log.info("%s stopped", self.service)

    def every(self, seconds: float, job: Callable[[AsyncSession], Awaitable[int]], what: str) -> None:
        """A background loop: `job` in a transaction now and every `seconds`; when it did something (a
        count above 0), what it queued in the outbox is published at once. A failure is logged, and the
        next round tries again."""

        async def loop(stop: asyncio.Event) -> None:
            while not stop.is_set():
                try:
                    async with self.db.transaction() as session:
                        done = await job(session)
                    if done:
                        self.publish_soon()
                except Exception:
                    log.exception("%s failed; trying again in %s s", what, seconds)
                await sleep_unless(stop, seconds)

        self.background.append(loop)

    def _consumer_committed(self) -> None:
        """A consumer transaction committed: wake the relay only if it queued events (most write none,
        and a relay pass is a transaction of its own)."""
        if self.consumer.wrote_outbox():
            self.publish_soon()

    def publish_soon(self) -> None:
        """Wake the relay after a commit instead of waiting for its next poll."""
        self.relay.wakeup.set()

    def committed(self) -> None:
        """A request's transaction committed: publish its events, and tell whoever caches state."""
        self.publish_soon()
        for hook in self.commit_hooks:
            hook()


def build_app(runtime: ServiceRuntime, routers: list[APIRouter], title: str) -> FastAPI:
    """A FastAPI app with the runtime in its lifespan and the common endpoints."""
    configure_logging(runtime.service, runtime.platform.log_level, runtime.platform.log_json)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, lifespan=lifespan)
    app.state.runtime = runtime
    install_error_handler(app)
    install_allow_header(app)
    app.add_middleware(RefuseNul)
    # Not ready while the consumer or the relay waits out an outage, until a message goes through again.
    checks: dict[str, ReadinessCheck] = {
        "database": runtime.db.ping,
        "broker": runtime.producer.ping,
        "consumer": runtime.consumer.stall.check,
        "outbox relay": runtime.relay.stall.check,
    }
    install_observability(app, runtime.service, checks)
    for router in routers:
        app.include_router(router)
    return app
