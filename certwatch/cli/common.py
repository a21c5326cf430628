"""What every command group shares: failing with a message, calling a service, printing JSON."""

from __future__ import annotations

import json
import os
from typing import NoReturn

import httpx
import typer

from certwatch.services import bearer, settings_of


def fail(message: str) -> NoReturn:
    """Print the message in red on stderr and exit 1."""
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def request(service: str, method: str, path: str, **kwargs: object) -> httpx.Response:
    """Call a service's API with your token (CERTWATCH_API_TOKEN), else the stack's administrator's; exit 1 with
    the answer when it fails."""
    url = settings_of(service).url + path
    try:
        headers = bearer(os.environ.get("CERTWATCH_API_TOKEN"))  # yours, else the stack's administrator's
        response = httpx.request(method, url, timeout=60.0, headers=headers, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        fail(f"{service} is not reachable at {url}: {exc}. Is the stack up? (certwatch status)")
    if response.status_code >= 400:
        fail(f"{service} answered {response.status_code}: {response.text}")
    return response


def print_json(data: object) -> None:
    """Indented JSON, Chinese as it is."""
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
