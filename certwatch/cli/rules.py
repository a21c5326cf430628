"""`certwatch rules`: the registry, risk events and their review, replay, the campaign sweep, tokens; and
`certwatch screen` (batch screening), which the root app registers as a top-level command."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from certwatch.cli.common import fail, print_json, request
from certwatch.services import bearer, settings_of

app = typer.Typer(help="rules: registry and risk events.", no_args_is_help=True)


def screen(
    input: Annotated[Path, typer.Option("--input", help="IN.csv: record_id,name,credit_code,address")],
    output: Annotated[Path, typer.Option("--output", help="OUT.csv: one row per input record")],
    registry: Annotated[
        Path | None,
        typer.Option(
            "--registry",
            help="REGISTRY.csv (org_id,name,credit_code,former_names,address); "
            "without it, the live registry of the rules service",
        ),
    ] = None,
) -> None:
    """Batch screening: match every record to the certified organisations, with score and explanation."""
    from services.rules.matcher.screening import ScreeningInputError, screen_files

    if not input.is_file():
        fail(f"{input}: no such file")
    if registry is None:
        with input.open("rb") as handle:
            response = request("rules", "POST", "/screening", files={"file": (input.name, handle, "text/csv")})
        output.write_bytes(response.content)
        typer.echo(f"screened against the live registry: {output}")
        return
    try:
        summary = screen_files(input, output, registry)
    except ScreeningInputError as exc:
        fail(str(exc))
    typer.echo(f"screened {summary.records} records: {summary.decisions} -> {output}")


@app.command("import-registry")
def rules_import_registry(path: Path) -> None:
    """Import the certification body's registry export (CSV or XLSX) as a job: its progress, then the report."""
    with path.open("rb") as handle:
        job = request("rules", "POST", "/organisations/import", files={"file": (path.name, handle, "text/csv")})
    print_json(_follow("rules", job.json()))


def _follow(service: str, job: dict[str, Any]) -> Any:
    """Poll a long job (GET /jobs/{id}) until it ends, its progress on stderr; its result, or exit 1 with its error."""
    shown = ""
    while job["status"] in ("queued", "running"):
        line = f"{job['status']}: {job['phase'] or ''} {job['done']}{'/' + str(job['total']) if job['total'] else ''}"
        if line != shown:
            typer.echo(line, err=True)
            shown = line
        time.sleep(0.5)
        job = request(service, "GET", f"/jobs/{job['id']}").json()
    if job["status"] != "succeeded":
        fail(f"job {job['id']} {job['status']}: {job['error']}")
    return job["result"]


@app.command("risk-events")
def rules_risk_events(status: str | None = None, limit: int = 20) -> None:
    """List risk events, newest first."""
    params = {"limit": limit, **({"status": status} if status else {})}
    for event in request("rules", "GET", "/risk-events", params=params).json():
        typer.echo(
            f"{event['id']}  {event['created_at'][:19]}  {event['severity']:8}  {event['status']:9}  {event['title']}"
        )


@app.command("risk-event")
def rules_risk_event(risk_event_id: str) -> None:
    """One risk event: its signal, match explanation, decision and audit trail."""
    print_json(request("rules", "GET", f"/risk-events/{risk_event_id}").json())


@app.command("assign")
def rules_assign(
    risk_event_id: str,
    to: Annotated[str, typer.Option("--to", help="the reviewer")],
    reason: str | None = None,
) -> None:
    """Assign a risk event to a reviewer (open → in review)."""
    body = {"assignee": to, "reason": reason}
    event = request("rules", "POST", f"/risk-events/{risk_event_id}/assign", json=body).json()
    typer.echo(f"{event['id']}: {event['status']}, assigned to {event['assigned_to']}")


@app.command("decide")
def rules_decide(
    risk_event_id: str,
    measure: Annotated[
        str,
        typer.Option(
            help="no_action | request_explanation | corrective_action | special_audit | suspend | withdraw | restore"
        ),
    ],
    reason: Annotated[str, typer.Option(help="why: it goes on the audit trail and to the organisation")],
    due: Annotated[str | None, typer.Option(help="corrective_action: the deadline (YYYY-MM-DD)")] = None,
    until: Annotated[str | None, typer.Option(help="suspend: the end of the suspension (YYYY-MM-DD)")] = None,
    certificate: Annotated[list[str] | None, typer.Option(help="suspend/withdraw/restore: only these")] = None,
) -> None:
    """Record a decision on a risk event (certificate measures change the certificates' status)."""
    body = {
        "measure": measure,
        "reason": reason,
        "corrective_action_due": due,
        "suspended_until": until,
        "certificates": certificate or [],
    }
    event = request("rules", "POST", f"/risk-events/{risk_event_id}/decision", json=body).json()
    typer.echo(f"{event['id']}: {event['status']}, {event['decision']}")


@app.command("close")
def rules_close(
    risk_event_id: str,
    reason: Annotated[str, typer.Option(help="why")],
) -> None:
    """Close a decided risk event."""
    body = {"reason": reason}
    event = request("rules", "POST", f"/risk-events/{risk_event_id}/close", json=body).json()
    typer.echo(f"{event['id']}: {event['status']}")


@app.command("replay")
def rules_replay(
    since: Annotated[str, typer.Option(help="signals ingest received since then (YYYY-MM-DD or ISO 8601)")],
    apply: Annotated[bool, typer.Option(help="raise what is missing (administrators); without it, a dry run")] = False,
    batch: Annotated[int, typer.Option(min=1, max=500)] = 500,
) -> None:
    """Stored signals through the current rules: what they would raise now, and what is not raised yet."""
    totals = {"signals": 0, "would_raise": 0, "already_raised": 0, "raised": 0}
    offset = 0
    while signals := request(
        "ingest", "GET", "/signals", params={"since": since, "limit": batch, "offset": offset}
    ).json():
        offset += len(signals)
        if apply:
            done = request("rules", "POST", "/replay/apply", json={"signals": signals}).json()
            totals["signals"] += done["signals"]
            totals["raised"] += done["raised"]
            continue
        found = request("rules", "POST", "/replay", json={"signals": signals}).json()
        for key in ("signals", "would_raise", "already_raised"):
            totals[key] += found[key]
        for f in found["findings"]:
            if not f["already_raised"]:
                what = f"{f['severity']:8} {f['rule_id']:28} {f['organisation_name']}"
                typer.echo(f"would raise  {what}  (signal {f['signal_id']})")
    shown = ("signals", "raised") if apply else ("signals", "would_raise", "already_raised")
    typer.echo(json.dumps({k: totals[k] for k in shown}))


@app.command("sweep")
def rules_sweep(
    as_of: Annotated[str | None, typer.Option(help="the day it looks from, YYYY-MM-DD (default: today)")] = None,
    window: Annotated[str, typer.Option(help="how far back the signals go: 3y, 18m, 90d")] = "3y",
    report: Annotated[Path | None, typer.Option(help="then write the campaign report to this .xlsx")] = None,
    top: Annotated[int, typer.Option(help="organisations of the ranking to print", min=0)] = 10,
) -> None:
    """The campaign sweep (decision-makers, administrators): the whole registry against every stored signal
    and the lists in force; a bar while it runs, then its record and the top of the risk ranking."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    sweep = request("rules", "POST", "/sweeps", json={"window": window, **({"as_of": as_of} if as_of else {})}).json()
    columns = (
        TextColumn("{task.description:10}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[counts]}"),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(sweep["phase"], total=1.0, counts="")
        while True:
            counts = f"{sweep['signals']:,} signals · {sweep['hits']:,} hits · {sweep['events_raised']:,} raised"
            bar.update(task, completed=sweep["progress"], description=sweep["phase"], counts=counts)
            if sweep["status"] not in ("queued", "running"):
                break
            time.sleep(1.0)
            sweep = request("rules", "GET", f"/sweeps/{sweep['id']}").json()
    if sweep["status"] != "succeeded":
        fail(f"sweep {sweep['id']} {sweep['status']}: {sweep['error']}")
    typer.echo(
        f"sweep {sweep['id']} ({sweep['ruleset_version']}), {sweep['since']} to {sweep['as_of']}: "
        f"{sweep['organisations']:,} organisations, {sweep['certificates']:,} certificates, "
        f"{sweep['signals']:,} signals screened; {sweep['hits']:,} hits on {sweep['organisations_hit']:,} "
        f"organisations; {sweep['events_raised']:,} risk events raised; {sweep['seconds']:.1f} s"
    )
    if top:
        for r in request("rules", "GET", f"/sweeps/{sweep['id']}/ranking", params={"limit": top}).json():
            typer.echo(f"{r['rank']:>4}. {r['score']:7.1f} {r['band']:6} {r['organisation']} ({r['hits']} hits)")
            for reason in r["reasons"][:3]:
                typer.echo(f"        {reason['text']}")
    if report:
        _sweep_report(sweep["id"], report)


@app.command("sweep-report")
def rules_sweep_report(
    output: Annotated[Path, typer.Option("--output", help="FILE.xlsx")],
    sweep: Annotated[str | None, typer.Option(help="the sweep's id (default: the latest)")] = None,
) -> None:
    """A sweep's campaign report (DOMAIN.md §6.1) as XLSX."""
    if sweep is None:
        latest = request("rules", "GET", "/sweeps", params={"limit": 1}).json()
        if not latest:
            fail("no sweep yet: certwatch rules sweep")
        sweep = latest[0]["id"]
    _sweep_report(str(sweep), output)


def _sweep_report(sweep_id: str, output: Path) -> None:
    url = settings_of("rules").url + f"/sweeps/{sweep_id}/report"
    headers = bearer(os.environ.get("CERTWATCH_API_TOKEN"))
    try:  # not request(): a national registry's annex takes longer than its 60 s
        response = httpx.get(url, params={"format": "xlsx"}, headers=headers, timeout=900.0)
    except httpx.HTTPError as exc:
        fail(f"rules is not reachable at {url}: {exc}. Is the stack up? (certwatch status)")
    if response.status_code >= 400:
        fail(f"rules answered {response.status_code}: {response.text}")
    output.write_bytes(response.content)
    typer.echo(f"wrote {output}")


@app.command("token-create")
def rules_token_create(
    name: Annotated[str, typer.Argument(help="the person or system; audit trails name it")],
    role: Annotated[str, typer.Option(help="reviewer | decision_maker | administrator | regulator | feed")],
) -> None:
    """Make a token (administrators): it is printed this once; every service accepts it (CERTWATCH_API_TOKEN)."""
    made = request("rules", "POST", "/tokens", json={"name": name, "role": role}).json()
    typer.echo(f"token for {made['name']} ({made['role']}), id {made['id']}; shown once:")
    typer.echo(made["token"])


@app.command("tokens")
def rules_tokens() -> None:
    """Every token made (administrators), revoked ones too; never the tokens themselves."""
    for t in request("rules", "GET", "/tokens").json():
        revoked = f"revoked {t['revoked_at'][:19]}" if t["revoked_at"] else "active"
        typer.echo(f"{t['id']}  {t['name']:20} {t['role']:15} {revoked}")


@app.command("token-revoke")
def rules_token_revoke(token_id: str) -> None:
    """Revoke a token (administrators): it stops working at once."""
    revoked = request("rules", "DELETE", f"/tokens/{token_id}").json()
    typer.echo(f"revoked the token of {revoked['name']} ({revoked['role']})")
