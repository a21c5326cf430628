"""Alembic glue: every service's env.py calls `run_env`, and ops call `upgrade`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(service_dir: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(service_dir / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(service_dir: Path, url: str, revision: str = "head") -> None:
    """Migrate one service's schema to `revision` (run as the service's own role)."""
    command.upgrade(alembic_config(service_dir, url), revision)


def _run(connection: Connection, metadata: MetaData, schema: str) -> None:
    connection.execute(text(f'SET search_path TO "{schema}"'))
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_schemas=False,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str, metadata: MetaData, schema: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(_run, metadata, schema)
    await engine.dispose()


def run_env(metadata: MetaData, schema: str) -> None:
    """The body of a service's migrations/env.py (online mode only: migrations run against a database)."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"
    asyncio.run(_run_async(url, metadata, schema))
