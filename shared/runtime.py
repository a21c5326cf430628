"""What every service process runs: database, producer, outbox relay, consumer, and the HTTP app.

A service runs as one process (role `all`) or as two (issue 13): `api` serves HTTP and relays what its
requests wrote; `worker` runs the consumer, the relay and the background loops and serves only /healthz,
/readyz and /metrics. A backlog then never shares an event loop with reads. Loops are registered on the
side they belong to: `background` (the work: the worker's) or `serving` (what requests started, e.g. their
jobs: the api's); role `all` runs both."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy import text
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
Loop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


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
            self.db,
            self.producer,
            tables.outbox,
            service,
            settings.outbox_poll_seconds,
            settings.consumer_backoff_max_seconds,
        )
        self.consumer = Consumer(service, platform, settings, self.db, tables.inbox, self.producer)
        self.consumer.after_commit = self._consumer_committed
        self.on_start: list[Hook] = []
        self.commit_hooks: list[Callable[[], None]] = []
        self.background: list[Loop] = []  # the work: run by the worker (and by `all`)
        self.serving: list[Loop] = []  # what requests started: run by the api (and by `all`)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._notifying: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.producer.start()
        for hook in self.on_start:
            await hook(self)
        loops: list[Loop] = [self.relay.run]  # both sides write outbox rows (SKIP LOCKED: relays share)
        if self.serves:
            loops += self.serving
        if self.works:
            loops += self.background
            if self.settings.run_consumers:
                loops.append(self.consumer.run)
        self._tasks = [asyncio.create_task(loop(self._stop), name=f"{self.service}:{loop}") for loop in loops]
        log.info("%s started (role %s)", self.service, self.role)

    @property
    def role(self) -> str:
        return self.settings.role

    @property
    def serves(self) -> bool:
        """Whether this process serves the service's API (roles all and api)."""
        return self.role != "worker"

    @property
    def works(self) -> bool:
        """Whether this process consumes and runs the background loops (roles all and worker)."""
        return self.role != "api"

    @property
    def split(self) -> bool:
        """Whether the other half of the service runs in another process (roles api and worker)."""
        return self.role != "all"

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

    def notify(self, channel: str) -> None:
        """Tell the service's other processes (PostgreSQL NOTIFY, in the background) that something they
        keep in memory changed; they hear it through `listen`. A failure is logged: their periodic
        refresh catches up."""

        async def send() -> None:
            try:
                async with self.db.engine.connect() as conn:
                    await conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": self._channel(channel)})
                    await conn.commit()
            except Exception:
                log.warning("could not notify %s", channel, exc_info=True)

        task = asyncio.create_task(send(), name=f"notify {channel}")
        self._notifying.add(task)
        task.add_done_callback(self._notifying.discard)

    def listen(self, channel: str, heard: Callable[[], None]) -> None:
        """When the service is split: a loop of this process that calls `heard` on each `notify(channel)` of
        another process, and each time it (re)connects (what was sent meanwhile is then caught up). It
        holds one connection of the pool, closed (never returned, listening) when it ends."""
        if not self.split:
            return

        def callback(*_: object) -> None:
            heard()

        async def loop(stop: asyncio.Event) -> None:
            while not stop.is_set():
                try:
                    async with self.db.engine.connect() as conn:
                        raw = (await conn.get_raw_connection()).driver_connection
                        assert raw is not None
                        try:
                            await raw.add_listener(self._channel(channel), callback)
                            heard()
                            while not stop.is_set() and not raw.is_closed():
                                await sleep_unless(stop, 1.0)
                        finally:
                            await conn.invalidate()
                except Exception:
                    log.warning("listening for %s failed; trying again", channel, exc_info=True)
                    await sleep_unless(stop, self.settings.consumer_backoff_max_seconds)

        (self.serving if self.serves else self.background).append(loop)

    def _channel(self, name: str) -> str:
        return f"certwatch_{self.settings.database_schema}_{name}"

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
    """A FastAPI app with the runtime in its lifespan and the common endpoints; the worker's has only those."""
    configure_logging(runtime.service, runtime.platform.log_level, runtime.platform.log_json)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title if runtime.serves else f"{title} (worker)", lifespan=lifespan)
    app.state.runtime = runtime
    install_error_handler(app)
    install_allow_header(app)
    app.add_middleware(RefuseNul)
    # Not ready while the consumer or the relay waits out an outage, until a message goes through again.
    checks: dict[str, ReadinessCheck] = {
        "database": runtime.db.ping,
        "broker": runtime.producer.ping,
        **({"consumer": runtime.consumer.stall.check} if runtime.works else {}),
        "outbox relay": runtime.relay.stall.check,
    }
    install_observability(app, runtime.service, checks)
    for router in routers if runtime.serves else []:
        app.include_router(router)
    return app
