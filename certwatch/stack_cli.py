"""`certwatch up | down | status`: the local stack from the command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from certwatch import stack
from shared.settings import data_dir as default_data_dir

stack_app = typer.Typer(help="The embedded local stack.", no_args_is_help=True)
DataDir = Annotated[
    Path | None, typer.Option(help="where the stack keeps its data (default .data/, or CERTWATCH_DATA_DIR)")
]


@stack_app.command()
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


@stack_app.command()
def down(data_dir: DataDir = None) -> None:
    """Stop everything `up` started (safe to run when nothing runs)."""
    stopped = stack.down(data_dir or default_data_dir())
    typer.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@stack_app.command()
def status(data_dir: DataDir = None) -> None:
    """Show what runs where."""
    _print_status((data_dir or default_data_dir()).absolute())


def _print_status(folder: Path) -> None:
    for row in stack.status(folder):
        state = "ready" if row.get("ready") else ("running" if row["running"] else "stopped")
        typer.echo(f"  {row['name']:16} {state:8} pid={row.get('pid') or '-':<8} {row['where']}")
    typer.echo(f"  settings: {folder / 'stack.env'}")
    typer.echo(f"  data and logs: {folder}")
