"""The one way background loops sleep: until the time is up, a wake-up, or a stop, whichever comes first."""

from __future__ import annotations

import asyncio

from shared.waiting import sleep_unless


async def test_it_sleeps_the_time_when_nothing_happens() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await sleep_unless(asyncio.Event(), 0.05) is False
    assert loop.time() - started >= 0.04


async def test_a_stop_or_a_wakeup_ends_it_at_once_and_only_a_stop_says_so() -> None:
    stop, wakeup = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.call_later(0.01, wakeup.set)
    started = loop.time()
    assert await sleep_unless(stop, 30, wakeup) is False
    wakeup.clear()
    loop.call_later(0.01, stop.set)
    assert await sleep_unless(stop, 30, wakeup) is True
    assert loop.time() - started < 5
    await asyncio.sleep(0)  # the cancelled waiters finish
    assert len([t for t in asyncio.all_tasks() if t is not asyncio.current_task()]) == 0  # no waiter left behind
