"""What a statement did, typed once (SQLAlchemy's `Result` does not declare `rowcount`; a DML result has it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, Executable
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


def affected(result: Any) -> int:
    """How many rows an INSERT, UPDATE or DELETE touched (an `ON CONFLICT DO NOTHING` that skipped: 0)."""
    assert isinstance(result, CursorResult), "affected() needs the result of an INSERT, UPDATE or DELETE"
    return int(result.rowcount)


async def changed(db: AsyncSession | AsyncConnection, statement: Executable) -> int:
    """Run an INSERT, UPDATE or DELETE; how many rows it touched."""
    return affected(await db.execute(statement))
