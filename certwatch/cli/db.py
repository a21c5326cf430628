"""`certwatch db`: each service's migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from certwatch.services import SERVICES, folder_of, settings_of

app = typer.Typer(help="Database: migrations per service.", no_args_is_help=True)


@app.command("migrate")
def db_migrate(service: Annotated[list[str] | None, typer.Option(help="only these services")] = None) -> None:
    """Migrate each service's schema to the newest revision, as that service's own role."""
    from shared.db.migrations import upgrade

    for name in service or SERVICES:
        upgrade(folder_of(name), settings_of(name).sqlalchemy_url)
        typer.echo(f"{name}: migrated")


@app.command("revision")
def db_revision(service: str, message: Annotated[str, typer.Option("-m")]) -> None:
    """Write a new migration for a service from the difference between its models and its schema."""
    from alembic import command

    from shared.db.migrations import alembic_config

    config = alembic_config(folder_of(service), settings_of(service).sqlalchemy_url)
    command.revision(config, message=message, autogenerate=True)
