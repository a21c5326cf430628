"""The `certwatch` command: the stack, the database, the broker, and one group per service.

One module per concern: `stack` (up, down, status, serve, run, compile: top-level commands), `db`, `kafka`,
and a typer sub-app per service (`ingest`, `rules`, `notify`, `reporting`); `rules` also holds the top-level
`screen`. What they share (calling a service, failing with a message) is in `common`.
"""

from __future__ import annotations

import typer

from certwatch.cli import db, ingest, kafka, notify, reporting, rules, stack

app = typer.Typer(help="certwatch: continuous compliance monitoring for a certification body.", no_args_is_help=True)

for command in (stack.up, stack.down, stack.status, stack.serve, stack.compile, rules.screen, stack.run):
    app.command()(command)
for name, sub in (
    ("db", db.app),
    ("kafka", kafka.app),
    ("ingest", ingest.app),
    ("rules", rules.app),
    ("notify", notify.app),
    ("reporting", reporting.app),
):
    app.add_typer(sub, name=name)
