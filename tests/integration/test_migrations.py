"""Each service's models and its Alembic history agree, and each role reaches only its own schema."""

from __future__ import annotations

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from certwatch.services import SERVICES
from services.ingest.models import Base as IngestBase
from services.notify.models import Base as NotifyBase
from services.reporting.models import Base as ReportingBase
from services.rules.models import Base as RulesBase

pytestmark = pytest.mark.integration

METADATA: dict[str, MetaData] = {
    "ingest": IngestBase.metadata,
    "rules": RulesBase.metadata,
    "notify": NotifyBase.metadata,
    "reporting": ReportingBase.metadata,
}


@pytest.mark.parametrize("service", SERVICES)
async def test_models_and_migrations_agree(service: str, postgres, database) -> None:
    engine = create_async_engine(
        postgres.dsn(database, service), connect_args={"server_settings": {"search_path": service}}
    )
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), METADATA[service])
            )
    finally:
        await engine.dispose()
    assert diff == [], f"{service}: models differ from migrations; add a revision (certwatch db revision)"


async def test_a_service_role_cannot_reach_another_services_schema(postgres, database) -> None:
    dsn = postgres.dsn(database, "notify").replace("+asyncpg", "")
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("select count(*) from notify.deliveries") == 0  # its own schema
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("select * from rules.organisations")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("create table ingest.intruder (id int)")
    finally:
        await conn.close()
