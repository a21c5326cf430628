"""`certwatch reporting`: the dashboard's figures and the regulator's report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from certwatch.cli.common import fail, print_json, request

app = typer.Typer(help="reporting: the dashboard's figures.", no_args_is_help=True)


@app.command("summary")
def reporting_summary() -> None:
    """The dashboard's figures."""
    print_json(request("reporting", "GET", "/summary").json())


@app.command("export")
def reporting_export(
    output: Annotated[Path, typer.Option("--output", help="FILE.xlsx (every sheet) or FILE.csv (the events raised)")],
    start: Annotated[str | None, typer.Option(help="first day, YYYY-MM-DD (default: 29 days before end)")] = None,
    end: Annotated[str | None, typer.Option(help="last day, included (default: today)")] = None,
) -> None:
    """The regulator's report for a period, as XLSX or CSV."""
    suffix = output.suffix.lower().lstrip(".")
    if suffix not in ("xlsx", "csv"):
        fail(f"{output}: the report is written as .xlsx or .csv")
    params = {"format": suffix, **({"start": start} if start else {}), **({"end": end} if end else {})}
    output.write_bytes(request("reporting", "GET", "/reports/regulator", params=params).content)
    typer.echo(f"wrote {output}")
