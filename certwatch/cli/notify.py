"""`certwatch notify`: the delivery log."""

from __future__ import annotations

import typer

from certwatch.cli.common import print_json, request

app = typer.Typer(help="notify: the delivery log.", no_args_is_help=True)


@app.command("deliveries")
def notify_deliveries(limit: int = 20) -> None:
    """The delivery log (recipients masked)."""
    print_json(request("notify", "GET", "/deliveries", params={"limit": limit}).json())
