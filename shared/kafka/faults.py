"""Which failures are an outage (wait and try the same message again, for as long as it takes) and which
are the message's own (the dead-letter queue), and the not-ready state a stuck loop reports."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from pydantic import ValidationError
from sqlalchemy import exc as sa

# SQLSTATE classes and codes that say "the database is unavailable or busy", never "the data is wrong":
# 08 connection exception, 53 insufficient resources, 57P01-57P03 shutdown / crash / not accepting
# connections yet, 40001 serialization failure, 40P01 deadlock, 55P03 lock not available.
_TRANSIENT_CLASSES = ("08", "53")
_TRANSIENT_CODES = frozenset({"57P01", "57P02", "57P03", "40001", "40P01", "55P03"})


class PermanentError(Exception):
    """Raised by a handler for a message that can never succeed: it goes to the DLQ at once."""


def is_permanent(exc: BaseException) -> bool:
    """Bad content: retrying the same bytes gives the same answer."""
    return isinstance(exc, PermanentError | ValidationError | json.JSONDecodeError | UnicodeDecodeError)


def is_transient(exc: BaseException) -> bool:
    """The infrastructure failed (database unreachable or restarting, broker unreachable), not the message."""
    return any(_transient_one(e) for e in _chain(exc))


def _transient_one(exc: BaseException) -> bool:
    if isinstance(exc, OSError | sa.OperationalError | sa.InterfaceError | sa.TimeoutError):
        return True  # OSError covers ConnectionRefusedError and TimeoutError (asyncio's too)
    if isinstance(exc, sa.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, KafkaConnectionError | KafkaTimeoutError) or (
        isinstance(exc, KafkaError) and getattr(exc, "retriable", False)
    ):
        return True
    if type(exc).__module__.startswith("asyncpg") and type(exc).__name__ in ("InterfaceError", "InternalClientError"):
        return "connection" in str(exc).lower() or "closed" in str(exc).lower()
    code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return isinstance(code, str) and (code[:2] in _TRANSIENT_CLASSES or code in _TRANSIENT_CODES)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what SQLAlchemy wraps (`orig`) and what it was raised from, each once (not
    `__context__`: an error raised while handling an outage error is not an outage by that alone)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [getattr(current, "orig", None), current.__cause__]


def describe(exc: BaseException, limit: int = 500) -> str:
    """`Type: message` on one line, cut to `limit` characters (DLQ headers, logs, readiness)."""
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"


class Stall:
    """Whether a loop is stuck on an outage, since when and why; readiness fails while it is."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.since: float | None = None
        self.reason = ""

    def stuck(self, reason: str) -> None:
        if self.since is None:
            self.since = time.monotonic()
        self.reason = reason

    def cleared(self) -> float | None:
        """Back to normal; returns how long it was stuck (None when it was not)."""
        since, self.since, self.reason = self.since, None, ""
        return None if since is None else time.monotonic() - since

    @property
    def is_stuck(self) -> bool:
        return self.since is not None

    async def check(self) -> None:
        """A readiness check: raises while stuck."""
        if self.since is not None:
            raise RuntimeError(
                f"{self.what} waiting {time.monotonic() - self.since:.0f} s for an outage: {self.reason}"
            )
