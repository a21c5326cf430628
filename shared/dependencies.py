"""Typed dependencies for routes: what a service wires at start, handed to a route by FastAPI.

A route never reads `request.app.state`; it names what it needs (`outbox: OutboxDep`), and the wiring
(`<service>/main.py`) is the one place that puts it there. A service declares its own parts the same way:

    Runner = Annotated[FeedRunner, Depends(provided("feed_runner"))]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from shared.kafka.outbox import Outbox
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


def provided(name: str) -> Callable[[Request], Any]:
    """A dependency giving what the service's wiring stored under `name` on the app at start."""

    def part(request: Request) -> Any:
        return getattr(request.app.state, name)

    part.__name__ = f"provided_{name}"
    return part


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def _outbox(runtime: Annotated[ServiceRuntime, Depends(_runtime)]) -> Outbox:
    return runtime.outbox


RuntimeDep = Annotated[ServiceRuntime, Depends(_runtime)]
OutboxDep = Annotated[Outbox, Depends(_outbox)]


def settings_of(kind: type[S]) -> Callable[[ServiceRuntime], S]:
    """A dependency giving the service's settings as their own class (`Annotated[ReportingSettings,
    Depends(settings_of(ReportingSettings))]`)."""

    def settings(runtime: RuntimeDep) -> S:
        assert isinstance(runtime.settings, kind), f"{type(runtime.settings).__name__} is not {kind.__name__}"
        return runtime.settings

    return settings
