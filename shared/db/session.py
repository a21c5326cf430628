"""Engine and sessions for one service. Services never commit: the request or message boundary does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from shared.settings import ServiceSettings


class Database:
    """One engine per service process; its connections run in the service's own schema."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.schema = settings.database_schema
        if not settings.sqlalchemy_url:
            env = f"CERTWATCH_{settings.service.upper()}_DATABASE_URL"
            raise RuntimeError(f"{env} is not set: run `certwatch up` for the local stack, or set it")
        self.engine: AsyncEngine = create_async_engine(
            settings.sqlalchemy_url,
            pool_size=settings.database_pool_size,
            pool_pre_ping=True,
            connect_args={"server_settings": {"search_path": settings.database_schema}},
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits on success and rolls back on any exception."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


async def write_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A request-scoped transaction, committed when the endpoint returns and before the response is sent
    (`scope="function"` below): a commit that fails (a deferred constraint, a lost connection) is the
    request's error, answered 409 or 503 by the error handler, never a 200 for something not stored."""
    runtime = request.app.state.runtime
    async with runtime.db.transaction() as session:
        yield session
    runtime.committed()  # what the request queued in the outbox is committed now


async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    db: Database = request.app.state.runtime.db
    async with db.sessions() as session:
        yield session


WriteSession = Annotated[AsyncSession, Depends(write_session, scope="function")]
ReadSession = Annotated[AsyncSession, Depends(read_session)]
