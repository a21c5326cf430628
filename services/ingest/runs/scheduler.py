"""The nightly scheduler: runs each feed on its cron schedule, and catches up on a run missed while down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from croniter import croniter

from services.ingest.runs.config import FeedConfig
from shared.waiting import sleep_unless

log = logging.getLogger(__name__)


def previous_fire(feed: FeedConfig, now: datetime) -> datetime:
    return _datetime(croniter(feed.schedule, now).get_prev(datetime))


def next_fire(feed: FeedConfig, now: datetime) -> datetime:
    return _datetime(croniter(feed.schedule, now).get_next(datetime))


def _datetime(fire: object) -> datetime:
    """croniter is untyped: its answer narrowed to the datetime it was asked for."""
    if not isinstance(fire, datetime):
        raise TypeError(f"croniter gave {fire!r}, not a datetime")
    return fire


def due(feeds: list[FeedConfig], last_started: dict[str, datetime], now: datetime, since: datetime) -> list[FeedConfig]:
    """Feeds whose latest scheduled time has passed since they last started. A feed that never ran
    waits for its first fire time after the scheduler started (`since`), not for deployment time."""
    return [f for f in feeds if f.enabled and last_started.get(f.name, since) < previous_fire(f, now)]


def seconds_until_next(feeds: list[FeedConfig], now: datetime, cap: float = 300.0) -> float:
    upcoming = [next_fire(f, now) for f in feeds if f.enabled]
    if not upcoming:
        return cap
    return max(0.5, min(cap, (min(upcoming) - now).total_seconds()))


async def run_schedule(
    stop: asyncio.Event,
    feeds: list[FeedConfig],
    last_started: Callable[[], Awaitable[dict[str, datetime]]],
    run: Callable[[FeedConfig], Awaitable[object]],
) -> None:
    """Until stopped: run what is due, one feed at a time, then sleep until the next fire time."""
    since = datetime.now(UTC)
    while not stop.is_set():
        now = datetime.now(UTC)
        try:
            for feed in due(feeds, await last_started(), now, since):
                log.info("scheduled run of feed %s", feed.name)
                await run(feed)
        except Exception:
            log.exception("scheduled feed run failed; the next schedule will try again")
        await sleep_unless(stop, seconds_until_next(feeds, datetime.now(UTC)))
