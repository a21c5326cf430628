"""Sweeps run as background jobs of the rules process that accepted them: started after the request's
commit, reporting progress in their row (`GET /sweeps/{id}`). A process that stops mid-sweep leaves the
row active with an old heartbeat; the next request finds it stale, marks it failed and may start again
(everything a sweep does is idempotent)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from services.rules.sweep.service import Sweeper
from services.rules.sweep.settings import SweepSettings
from services.rules.sweep.signals import IngestSignals

log = logging.getLogger(__name__)


def _running(app: FastAPI) -> set[asyncio.Task[None]]:
    tasks: set[asyncio.Task[None]] | None = getattr(app.state, "sweep_tasks", None)
    if tasks is None:
        tasks = app.state.sweep_tasks = set()
    return tasks


async def start(app: FastAPI, sweep_id: uuid.UUID, headers: dict[str, str]) -> None:
    """Start the sweep in the background (this returns at once). `headers` carry the caller's token: the
    sweep reads ingest's signals with the authority of whoever asked for it."""
    runtime = app.state.runtime
    settings = SweepSettings()
    given: httpx.AsyncClient | None = getattr(app.state, "sweep_ingest", None)  # tests: ingest in-process
    client = given or httpx.AsyncClient(base_url=settings.ingest(), timeout=120.0)
    source = IngestSignals(client, headers, settings.sweep_page)
    sweeper = Sweeper(
        runtime.db,
        runtime.outbox,
        app.state.live_index,
        source,
        sweep_id,
        runtime.publish_soon,
        writers=settings.sweep_writers,
    )
    task = asyncio.create_task(_run(sweeper, None if given else client), name=f"sweep {sweep_id}")
    tasks = _running(app)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _run(sweeper: Sweeper, client: httpx.AsyncClient | None) -> None:
    try:
        await sweeper.run()
    except asyncio.CancelledError:
        await _failed(sweeper, "cancelled: the rules service stopped")
        raise
    except Exception as exc:
        log.exception("sweep %s failed", sweeper.sweep_id)
        await _failed(sweeper, f"{type(exc).__name__}: {exc}")
    finally:
        if client is not None:
            await client.aclose()


async def _failed(sweeper: Sweeper, error: str) -> None:
    try:
        await sweeper.fail(error)
    except Exception:  # the database is gone too: the heartbeat will tell
        log.exception("sweep %s: could not record its failure", sweeper.sweep_id)


async def wait_all(app: FastAPI, timeout: float | None = None) -> Any:
    """Wait for the sweeps this process runs (tests, and a graceful stop)."""
    tasks = list(_running(app))
    return await asyncio.wait(tasks, timeout=timeout) if tasks else None
