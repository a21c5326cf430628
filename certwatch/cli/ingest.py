"""`certwatch ingest`: post a signal, ingest a file directly, run a configured feed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from certwatch.cli.common import fail, print_json, request

app = typer.Typer(help="ingest: signals and feeds.", no_args_is_help=True)

FILE_KINDS = ("spot_check", "food_spot_check", "serious_illegal", "abnormal_operation", "licence_status", "accident")


@app.command("signal")
def ingest_signal(
    kind: Annotated[str, typer.Option(help="e.g. spot_check_failure, serious_illegal_listed")],
    name: Annotated[str, typer.Option(help="the enterprise as the source names it")],
    credit_code: Annotated[str | None, typer.Option()] = None,
    address: Annotated[str | None, typer.Option()] = None,
    province: Annotated[str | None, typer.Option()] = None,
    product: Annotated[str | None, typer.Option()] = None,
    reason: Annotated[str | None, typer.Option()] = None,
    bulletin_no: Annotated[str | None, typer.Option()] = None,
    feed: Annotated[str, typer.Option()] = "manual",
) -> None:
    """Post one signal to ingest."""
    body = {
        "feed": feed,
        "kind": kind,
        "subject": {"name": name, "credit_code": credit_code, "address": address, "province": province},
        "product": {"name": product} if product else None,
        "detail": {"reason": reason, "bulletin_no": bulletin_no},
    }
    print_json(request("ingest", "POST", "/signals", json=body).json())


@app.command("file")
def ingest_file(
    path: Path,
    kind: Annotated[str, typer.Option(help=" | ".join(FILE_KINDS))],
    feed: Annotated[str | None, typer.Option(help="feed name to record the run under")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="parse and validate only; publish nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON on the last line")] = False,
    signals: Annotated[
        Path | None,
        typer.Option("--signals", help="with --dry-run: write every signal it would publish to this JSON Lines file"),
    ] = None,
    preview: Annotated[
        bool, typer.Option("--preview", help="with --dry-run: a line per row (parties, product, items, dates)")
    ] = False,
    publisher: Annotated[
        str | None,
        typer.Option(
            help="the authority that published the file (e.g. 湘潭市市场监督管理局): the level if the file omits it"
        ),
    ] = None,
) -> None:
    """Ingest one file directly (bulletin, credit list, status or accident file)."""
    from certwatch.ingest_direct import Preview
    from certwatch.ingest_direct import ingest_file as run_file

    if kind not in FILE_KINDS:
        fail(f"unknown kind {kind!r}; choose one of {', '.join(FILE_KINDS)}")
    if not path.is_file():
        fail(f"{path}: no such file")
    if (signals or preview) and not dry_run:
        fail("--signals and --preview go with --dry-run (a real run's signals are listed by GET /signals)")
    with Preview(signals, typer.echo if preview else None) as sink:
        summary = asyncio.run(run_file(path, kind, feed, dry_run, sink if (signals or preview) else None, publisher))
    _report_run(summary, as_json)


@app.command("run")
def ingest_run(
    feed: str,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run one configured feed now, as the nightly schedule would."""
    from certwatch.ingest_direct import run_feed

    _report_run(asyncio.run(run_feed(feed, dry_run)), as_json)


def _report_run(summary: dict[str, Any], as_json: bool) -> None:
    rejections: list[dict[str, Any]] = summary.pop("rejections", [])
    if not as_json:
        for rejection in rejections[:50]:
            typer.echo(f"  row {rejection['row']}: {rejection['reason']}")
        for key, value in summary.items():
            typer.echo(f"{key:>10}: {value}")
    else:
        typer.echo(json.dumps(summary, ensure_ascii=False))
    if summary.get("status") == "failed":
        raise typer.Exit(1)
