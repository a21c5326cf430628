"""Running the project: the local stack (`up`, `down`, `status`), one service (`serve`), the main job
(`run`) and the compiled matcher modules (`compile`). The root app registers these as top-level commands."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer

from certwatch import stack
from certwatch.cli.common import fail
from certwatch.services import SERVICES, app_factory, settings_of
from shared.settings import data_dir as default_data_dir

DataDir = Annotated[
    Path | None, typer.Option(help="where the stack keeps its data (default .data/, or CERTWATCH_DATA_DIR)")
]


def up(data_dir: DataDir = None) -> None:
    """Start PostgreSQL, the broker, the mail and SMS sinks and the four services; wait until ready."""
    folder = (data_dir or default_data_dir()).absolute()
    if stack.is_up(folder):
        typer.echo("the stack is already up")
    else:
        began = time.monotonic()
        try:
            stack.up(folder)
        except stack.StackError as exc:
            typer.secho(str(exc), fg=typer.colors.RED, err=True)
            typer.secho(f"logs: {folder / 'logs'}; stop what started with `certwatch down`", err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"the stack is up ({time.monotonic() - began:.1f}s)")
    _print_status(folder)


def down(data_dir: DataDir = None) -> None:
    """Stop everything `up` started (safe to run when nothing runs)."""
    stopped = stack.down(data_dir or default_data_dir())
    typer.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


def status(data_dir: DataDir = None) -> None:
    """Show what runs where."""
    _print_status((data_dir or default_data_dir()).absolute())


def _print_status(folder: Path) -> None:
    for row in stack.status(folder):
        state = "ready" if row.get("ready") else ("running" if row["running"] else "stopped")
        typer.echo(f"  {row['name']:16} {state:8} pid={row.get('pid') or '-':<8} {row['where']}")
    typer.echo(f"  settings: {folder / 'stack.env'}")
    typer.echo(f"  data and logs: {folder}")


def serve(
    service: Annotated[str, typer.Argument(help="ingest | rules | notify | reporting")],
    role: Annotated[
        str, typer.Option(help="all: everything in one process; api: HTTP only; worker: consumers and loops")
    ] = "",
    port: Annotated[int | None, typer.Option(help="listen here instead of the service's port setting")] = None,
) -> None:
    """Run one service in the foreground: its HTTP API, consumers and outbox relay, or one side of them."""
    import uvicorn

    if service not in SERVICES:
        fail(f"unknown service {service!r}; choose one of {', '.join(SERVICES)}")
    if role:
        if role not in ("all", "api", "worker"):
            fail(f"unknown role {role!r}; choose all, api or worker")
        os.environ[f"CERTWATCH_{service.upper()}_ROLE"] = role  # read by the app factory's settings
    settings = settings_of(service)
    port = port or settings.port
    uvicorn.run(app_factory(service), factory=True, host=settings.host, port=port, log_config=None)


def compile(force: Annotated[bool, typer.Option(help="rebuild every module, not only stale ones")] = False) -> None:
    """Compile the matcher's hot modules with Cython (make install runs this; see shared/compiled.py)."""
    from shared.compiled import build

    built = build(force=force)
    typer.echo(f"compiled {len(built)} module(s): {', '.join(built)}" if built else "compiled modules are up to date")


def run(
    data_dir: Annotated[Path | None, typer.Option(help="where the local stack keeps its data")] = None,
    timeout: float = 90.0,
) -> None:
    """The main job on the embedded stack: start it, load demo data, run the job once, print a summary."""
    from certwatch.mainjob import run_main_job

    run_main_job(data_dir, timeout)
