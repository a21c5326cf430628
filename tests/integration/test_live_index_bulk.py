"""The live matcher index after a bulk change (issue 13 item 2): a new index is built beside the current
one and swapped in, the lock never held for it, and matching goes on meanwhile."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.rules.db import messaging
from services.rules.matcher.index import RegistryIndex
from services.rules.registry import bulk
from services.rules.registry.importer import RegistryStream
from services.rules.registry.live_index import BULK, LiveIndex
from shared.db.session import Database
from shared.jobs import Progress
from shared.kafka.outbox import Outbox

pytestmark = pytest.mark.integration

TRADE = "宏远澄川凌岳瑞泽佳龙华茂鑫源恒达"


def name(k: int) -> str:
    return f"宁波市{TRADE[k % 14]}{TRADE[k // 14 % 14]}{TRADE[k // 196 % 14]}{k}电器有限公司"


async def test_a_bulk_change_is_built_beside_the_index_and_swapped_in_while_matching_goes_on(
    service_settings,
) -> None:
    db = Database(service_settings("rules"))
    live = LiveIndex(db, every=3600)
    try:
        async with db.transaction() as session:
            seed = ("org_id,name\nSEED,浙江宏远电器有限公司\n").encode()
            await bulk.import_stream(session, Outbox(messaging.outbox, "rules"), RegistryStream(seed), "s", Progress())
        assert await live.refresh() == 1
        old = live.index

        count = BULK + 1000
        data = ("org_id,name\n" + "".join(f"B-{k},{name(k)}\n" for k in range(count))).encode()
        async with db.transaction() as session:
            report = await bulk.import_stream(
                session, Outbox(messaging.outbox, "rules"), RegistryStream(data), "b", Progress()
            )
        assert report.created == count
        live.dirty = True

        matched_before_swap = 0
        started = time.monotonic()
        while live.rebuilt == 0:
            assert time.monotonic() - started < 120, "the new index was never swapped in"
            index = await live.current()  # never waits for the rebuild
            assert not live._lock.locked()
            if live.rebuilt == 0:
                assert index is old
                found = await live.call(RegistryIndex.match, "浙江宏远电器有限公司")
                assert found and found[0].org_id  # the current index answers meanwhile
                matched_before_swap += 1
            await asyncio.sleep(0.01)
        assert matched_before_swap > 0
        assert live.index is not old and len(live.index) == count + 1
        found = await live.call(RegistryIndex.match, name(4321))
        assert found and found[0].matched_name == name(4321)
    finally:
        await db.dispose()
