"""The live index never hands out a state older than the registry's last commit."""

from __future__ import annotations

import asyncio

from services.rules.matcher.index import RegistryRecord
from services.rules.registry.live_index import LiveIndex


class _SlowRegistry(LiveIndex):
    """Loads one organisation, slowly, as a refresh on a loaded machine does (no database here)."""

    async def refresh(self) -> int:
        async with self._lock:
            self.dirty = False
            await asyncio.sleep(0.05)
            self.index.upsert(RegistryRecord("ORG-1", "浙江宏远电器有限公司"))
            return 1


async def test_a_signal_waits_for_the_refresh_in_flight() -> None:
    live = _SlowRegistry(db=None)  # type: ignore[arg-type]
    live.dirty = False  # the periodic refresh has started and cleared the flag, but not loaded yet
    in_flight = asyncio.create_task(live.refresh())
    await asyncio.sleep(0)
    index = await live.current()
    assert index.best("浙江宏远电器有限公司") is not None
    await in_flight
