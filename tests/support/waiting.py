"""Waiting for asynchronous effects without fixed sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], timeout: float = 90.0) -> T:
    """Call `probe` until `accept(result)`; fail with the last result after `timeout` seconds.

    The limit is generous (a loaded 2-core machine joins consumer groups slowly); a passing test
    returns as soon as the condition holds.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if accept(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {result!r}")
        await asyncio.sleep(0.1)
