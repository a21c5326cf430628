"""The live matcher index on real PostgreSQL: a registry write that commits late is still picked up."""

from __future__ import annotations

import uuid

import pytest

from services.rules.registry.live_index import LiveIndex
from services.rules.tables import Organisation
from shared.db.session import Database

pytestmark = pytest.mark.integration


def organisation(ref: str, name: str) -> Organisation:
    return Organisation(id=uuid.uuid4(), external_ref=ref, name=name, former_names=[], sites=[], revision=1)


async def test_a_write_that_commits_after_a_later_one_is_not_missed(service_settings) -> None:
    db = Database(service_settings("rules"))
    live = LiveIndex(db)
    try:
        await live.refresh()
        async with db.sessions() as long_import, db.sessions() as quick_edit:
            # A long import starts writing first (its transaction and its row are older)...
            await long_import.begin()
            long_import.add(organisation("LONG", "浙江宏远电器有限公司"))
            await long_import.flush()
            # ...a quick edit starts later and commits first, and the index reads it...
            async with quick_edit.begin():
                quick_edit.add(organisation("QUICK", "广东澄川电器制造有限公司"))
            assert await live.refresh() == 1
            assert (await live.current()).best("广东澄川电器制造有限公司") is not None
            assert (await live.current()).best("浙江宏远电器有限公司") is None  # not committed yet
            # ...then the long import commits: the next read must still see its row.
            await long_import.commit()
        await live.refresh()
        found = (await live.current()).best("浙江宏远电器有限公司")
        assert found is not None and found.decision == "match"

        # A later edit of a row already loaded is seen too, and nothing is lost by reading twice.
        loaded = (await live.current()).best("浙江宏远电器有限公司")
        assert loaded is not None
        async with db.transaction() as session:
            org = await session.get(Organisation, uuid.UUID(loaded.org_id))
            assert org is not None
            org.name = "浙江宏远电气有限公司"
        await live.refresh()
        index = await live.current()
        renamed = index.best("浙江宏远电气有限公司")
        assert renamed is not None and renamed.decision == "match" and len(index) == 2
    finally:
        await db.dispose()
