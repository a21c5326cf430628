"""Waiting in a background loop that must stop promptly: the one way every loop of certwatch sleeps."""

from __future__ import annotations

import asyncio


async def sleep_unless(stop: asyncio.Event, seconds: float, *wakeups: asyncio.Event) -> bool:
    """Sleep `seconds`, or less if `stop` (or any of `wakeups`) is set first; True when `stop` is set."""
    waiters = {asyncio.ensure_future(event.wait()) for event in (stop, *wakeups)}
    try:
        await asyncio.wait(waiters, timeout=max(seconds, 0.0), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return stop.is_set()
