"""Which failures are an outage (wait, try again without limit) and which are the message's own (DLQ)."""

from __future__ import annotations

import json

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError
from pydantic import BaseModel, ValidationError
from sqlalchemy import exc as sa

from shared.kafka.faults import PermanentError, Stall, is_permanent, is_transient


class _Model(BaseModel):
    n: int


def _wrapped(orig: BaseException, cls: type[sa.DBAPIError] = sa.DBAPIError, invalidated: bool = False) -> sa.DBAPIError:
    """As SQLAlchemy raises it: the driver's error in `orig`, raised from asyncpg's own."""
    adapted = Exception(str(orig))
    adapted.__cause__ = orig
    return cls("SELECT 1", {}, adapted, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        TimeoutError(),
        OSError("Network is unreachable"),
        _wrapped(asyncpg.exceptions.CannotConnectNowError("the database system is starting up")),
        _wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command")),
        _wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")),
        _wrapped(asyncpg.exceptions.SerializationError("could not serialize access")),
        _wrapped(asyncpg.exceptions.DeadlockDetectedError("deadlock detected")),
        _wrapped(asyncpg.exceptions.TooManyConnectionsError("too many clients")),
        _wrapped(RuntimeError("whatever"), invalidated=True),
        _wrapped(RuntimeError("whatever"), sa.OperationalError),
        _wrapped(RuntimeError("connection is closed"), sa.InterfaceError),
        sa.TimeoutError("QueuePool limit reached"),
        KafkaConnectionError("no broker"),
        KafkaTimeoutError(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_outage_is_transient_and_never_permanent(error: BaseException) -> None:
    assert is_transient(error)
    assert not is_permanent(error)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("a bug"),
        KeyError("x"),
        _wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key"), sa.IntegrityError),
        _wrapped(asyncpg.exceptions.UndefinedTableError("relation does not exist"), sa.ProgrammingError),
        MessageSizeTooLargeError(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_other_errors_are_not_an_outage(error: BaseException) -> None:
    assert not is_transient(error)
    assert not is_permanent(error)


def test_bad_content_and_declared_failures_are_permanent() -> None:
    with pytest.raises(ValidationError) as invalid:
        _Model.model_validate({"n": "x"})
    with pytest.raises(json.JSONDecodeError) as undecodable:
        json.loads("{")
    for error in (invalid.value, undecodable.value, PermanentError("unknown organisation")):
        assert is_permanent(error) and not is_transient(error)


async def test_a_stall_fails_readiness_until_cleared() -> None:
    stall = Stall("reporting consumer")
    await stall.check()
    assert stall.cleared() is None
    stall.stuck("ConnectionRefusedError: Connect call failed")
    with pytest.raises(RuntimeError, match=r"reporting consumer waiting .* ConnectionRefusedError"):
        await stall.check()
    waited = stall.cleared()
    assert waited is not None and waited >= 0
    await stall.check()
