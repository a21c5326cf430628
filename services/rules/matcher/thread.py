"""The matcher's thread: everything that reads or changes an index runs on it, never on the event loop.

One thread, not a pool: the index is never read while it changes, and the compiled matcher holds the GIL
anyway, so more threads would only wait for each other (its calls are short and the thread lets go of the
GIL between them; see README, "CPU work off the loop"). The live index (registry/live_index.py) refreshes
on it; screening and the sweep match on it.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, Protocol, TypeVar

from services.rules.matcher.index import RegistryIndex

P = ParamSpec("P")
T = TypeVar("T")

_matcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="matcher")


async def on_matcher_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `fn` on the matcher's thread (with the caller's context: its correlation id in the logs)."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_matcher, call)


class LiveMatcher(Protocol):
    """The index routes and jobs match against, kept current by the registry (registry/live_index.py, which
    the composition root hands them): they need the matcher, not the registry's tables."""

    async def current(self) -> RegistryIndex:
        """The index, up to date with this process's registry writes."""
        ...

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(index, *args, **kwargs)` on the matcher's thread, against the current index."""
        ...
