"""A write is committed before it is answered (issue 12 item 1): a commit that fails is never a 2xx."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from shared.db.session import Database, WriteSession
from shared.errors import install_error_handler

pytestmark = pytest.mark.integration


async def test_a_commit_that_fails_is_answered_409_and_nothing_is_stored(service_settings) -> None:
    db = Database(service_settings("ingest"))
    try:
        async with db.transaction() as session:  # a constraint checked only at COMMIT
            await session.execute(text(
                "CREATE TABLE deferred_check (id int PRIMARY KEY, parent int CONSTRAINT deferred_parent "
                "REFERENCES deferred_check (id) DEFERRABLE INITIALLY DEFERRED)"
            ))  # fmt: skip
        committed: list[bool] = []
        app = FastAPI()
        app.state.runtime = SimpleNamespace(db=db, committed=lambda: committed.append(True))
        install_error_handler(app)

        @app.post("/things/{parent}")
        async def add(parent: int, session: WriteSession) -> dict[str, bool]:
            await session.execute(text("INSERT INTO deferred_check VALUES (1, :parent)"), {"parent": parent})
            return {"stored": True}  # the insert itself succeeds; only the commit can fail

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            refused = await client.post("/things/99")
            assert refused.status_code == 409 and "deferred_parent" in refused.json()["message"]
            assert not committed
            async with db.sessions() as session:
                assert await session.scalar(text("SELECT count(*) FROM deferred_check")) == 0
            stored = await client.post("/things/1")  # a parent that exists (itself): commits, then 200
            assert stored.status_code == 200 and committed == [True]
    finally:
        await db.dispose()
