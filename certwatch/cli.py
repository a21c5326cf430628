"""The `certwatch` command: the stack, the database, the broker, and one group per service."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from certwatch.services import SERVICES, app_factory, bearer, folder_of, settings_of
from certwatch.stack_cli import stack_app
from shared.settings import PlatformSettings

app = typer.Typer(help="certwatch: continuous compliance monitoring for a certification body.", no_args_is_help=True)
db_app = typer.Typer(help="Database: migrations per service.", no_args_is_help=True)
kafka_app = typer.Typer(help="Broker: topics and dead letters.", no_args_is_help=True)
ingest_app = typer.Typer(help="ingest: signals and feeds.", no_args_is_help=True)
rules_app = typer.Typer(help="rules: registry and risk events.", no_args_is_help=True)
notify_app = typer.Typer(help="notify: the delivery log.", no_args_is_help=True)
reporting_app = typer.Typer(help="reporting: the dashboard's figures.", no_args_is_help=True)

app.registered_commands.extend(stack_app.registered_commands)
for name, sub in (
    ("db", db_app),
    ("kafka", kafka_app),
    ("ingest", ingest_app),
    ("rules", rules_app),
    ("notify", notify_app),
    ("reporting", reporting_app),
):
    app.add_typer(sub, name=name)


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def _request(service: str, method: str, path: str, **kwargs: object) -> httpx.Response:
    url = settings_of(service).url + path
    try:
        headers = bearer(os.environ.get("CERTWATCH_API_TOKEN"))  # yours, else the stack's administrator's
        response = httpx.request(method, url, timeout=60.0, headers=headers, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        _fail(f"{service} is not reachable at {url}: {exc}. Is the stack up? (certwatch status)")
        raise
    if response.status_code >= 400:
        _fail(f"{service} answered {response.status_code}: {response.text}")
    return response


def _print(data: object) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@app.command()
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
        _fail(f"unknown service {service!r}; choose one of {', '.join(SERVICES)}")
    if role:
        if role not in ("all", "api", "worker"):
            _fail(f"unknown role {role!r}; choose all, api or worker")
        os.environ[f"CERTWATCH_{service.upper()}_ROLE"] = role  # read by the app factory's settings
    settings = settings_of(service)
    port = port or settings.port
    uvicorn.run(app_factory(service), factory=True, host=settings.host, port=port, log_config=None)


@app.command()
def compile(force: Annotated[bool, typer.Option(help="rebuild every module, not only stale ones")] = False) -> None:
    """Compile the matcher's hot modules with Cython (make install runs this; see shared/compiled.py)."""
    from shared.compiled import build

    built = build(force=force)
    typer.echo(f"compiled {len(built)} module(s): {', '.join(built)}" if built else "compiled modules are up to date")


@db_app.command("migrate")
def db_migrate(service: Annotated[list[str] | None, typer.Option(help="only these services")] = None) -> None:
    """Migrate each service's schema to the newest revision, as that service's own role."""
    from shared.db.migrations import upgrade

    for name in service or SERVICES:
        upgrade(folder_of(name), settings_of(name).sqlalchemy_url)
        typer.echo(f"{name}: migrated")


@db_app.command("revision")
def db_revision(service: str, message: Annotated[str, typer.Option("-m")]) -> None:
    """Write a new migration for a service from the difference between its models and its schema."""
    from alembic import command

    from shared.db.migrations import alembic_config

    config = alembic_config(folder_of(service), settings_of(service).sqlalchemy_url)
    command.revision(config, message=message, autogenerate=True)


@kafka_app.command("ensure-topics")
def kafka_ensure_topics(partitions: int = 3) -> None:
    """Create every contract topic and its DLQ if missing."""
    from shared.kafka.admin import ensure_topics

    created = asyncio.run(ensure_topics(PlatformSettings(), partitions))
    typer.echo(f"topics created: {len(created)}")


@kafka_app.command("lag")
def kafka_lag(group: str, topic: Annotated[list[str], typer.Option(help="topics of the group")]) -> None:
    """How many messages a consumer group has not processed yet."""
    from shared.kafka.lag import group_lag

    typer.echo(asyncio.run(group_lag(PlatformSettings(), group, topic)))


@kafka_app.command("dlq")
def kafka_dlq(topic: str) -> None:
    """Show the dead letters of a topic: why each failed, where from, and the message."""
    from shared.kafka.dlq import read_dlq

    for letter in asyncio.run(read_dlq(PlatformSettings(), topic)):
        _print(
            {
                "offset": letter.offset,
                "key": letter.key,
                "headers": letter.headers,
                "value": letter.value.decode(errors="replace")[:2000],
            }
        )


@kafka_app.command("replay-dlq")
def kafka_replay_dlq(topic: str) -> None:
    """Send a topic's dead letters back to it, once (after the cause is fixed)."""
    from shared.kafka.dlq import replay_dlq

    typer.echo(f"replayed: {asyncio.run(replay_dlq(PlatformSettings(), topic))}")


@kafka_app.command("republish")
def kafka_republish(
    since: Annotated[str, typer.Option(help="ISO 8601 time (local unless it has a zone) or a duration back: 2h, 1d")],
    service: Annotated[list[str] | None, typer.Option(help="only these services' outboxes (repeatable)")] = None,
    partitions: Annotated[int, typer.Option(help="for topics the broker lost")] = 3,
) -> None:
    """Send every outbox event created since T again, after the broker lost them (consumers skip what they had)."""
    from certwatch.republish import run

    try:
        done = run(since, service, partitions)
    except ValueError as exc:
        _fail(str(exc))
        return
    for each in done:
        typer.echo(f"{each.service}: {each.events} event(s) republished {each.topics}")


@ingest_app.command("signal")
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
    _print(_request("ingest", "POST", "/signals", json=body).json())


FILE_KINDS = ("spot_check", "food_spot_check", "serious_illegal", "abnormal_operation", "licence_status", "accident")


@ingest_app.command("file")
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
        _fail(f"unknown kind {kind!r}; choose one of {', '.join(FILE_KINDS)}")
    if not path.is_file():
        _fail(f"{path}: no such file")
    if (signals or preview) and not dry_run:
        _fail("--signals and --preview go with --dry-run (a real run's signals are listed by GET /signals)")
    with Preview(signals, typer.echo if preview else None) as sink:
        summary = asyncio.run(run_file(path, kind, feed, dry_run, sink if (signals or preview) else None, publisher))
    _report_run(summary, as_json)


@ingest_app.command("run")
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


@app.command()
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
        _fail(f"{input}: no such file")
    if registry is None:
        with input.open("rb") as handle:
            response = _request("rules", "POST", "/screening", files={"file": (input.name, handle, "text/csv")})
        output.write_bytes(response.content)
        typer.echo(f"screened against the live registry: {output}")
        return
    try:
        summary = screen_files(input, output, registry)
    except ScreeningInputError as exc:
        _fail(str(exc))
        return
    typer.echo(f"screened {summary.records} records: {summary.decisions} -> {output}")


@rules_app.command("import-registry")
def rules_import_registry(path: Path) -> None:
    """Import the certification body's registry export (CSV or XLSX) as a job: its progress, then the report."""
    with path.open("rb") as handle:
        job = _request("rules", "POST", "/organisations/import", files={"file": (path.name, handle, "text/csv")})
    _print(_follow("rules", job.json()))


def _follow(service: str, job: dict[str, Any]) -> Any:
    """Poll a long job (GET /jobs/{id}) until it ends, its progress on stderr; its result, or exit 1 with its error."""
    shown = ""
    while job["status"] in ("queued", "running"):
        line = f"{job['status']}: {job['phase'] or ''} {job['done']}{'/' + str(job['total']) if job['total'] else ''}"
        if line != shown:
            typer.echo(line, err=True)
            shown = line
        time.sleep(0.5)
        job = _request(service, "GET", f"/jobs/{job['id']}").json()
    if job["status"] != "succeeded":
        _fail(f"job {job['id']} {job['status']}: {job['error']}")
    return job["result"]


@rules_app.command("risk-events")
def rules_risk_events(status: str | None = None, limit: int = 20) -> None:
    """List risk events, newest first."""
    params = {"limit": limit, **({"status": status} if status else {})}
    for event in _request("rules", "GET", "/risk-events", params=params).json():
        typer.echo(
            f"{event['id']}  {event['created_at'][:19]}  {event['severity']:8}  {event['status']:9}  {event['title']}"
        )


@rules_app.command("risk-event")
def rules_risk_event(risk_event_id: str) -> None:
    """One risk event: its signal, match explanation, decision and audit trail."""
    _print(_request("rules", "GET", f"/risk-events/{risk_event_id}").json())


@rules_app.command("assign")
def rules_assign(
    risk_event_id: str,
    to: Annotated[str, typer.Option("--to", help="the reviewer")],
    reason: str | None = None,
) -> None:
    """Assign a risk event to a reviewer (open → in review)."""
    body = {"assignee": to, "reason": reason}
    event = _request("rules", "POST", f"/risk-events/{risk_event_id}/assign", json=body).json()
    typer.echo(f"{event['id']}: {event['status']}, assigned to {event['assigned_to']}")


@rules_app.command("decide")
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
    body = {"measure": measure, "reason": reason, "corrective_action_due": due,
            "suspended_until": until, "certificates": certificate or []}  # fmt: skip
    event = _request("rules", "POST", f"/risk-events/{risk_event_id}/decision", json=body).json()
    typer.echo(f"{event['id']}: {event['status']}, {event['decision']}")


@rules_app.command("close")
def rules_close(
    risk_event_id: str,
    reason: Annotated[str, typer.Option(help="why")],
) -> None:
    """Close a decided risk event."""
    body = {"reason": reason}
    event = _request("rules", "POST", f"/risk-events/{risk_event_id}/close", json=body).json()
    typer.echo(f"{event['id']}: {event['status']}")


@rules_app.command("replay")
def rules_replay(
    since: Annotated[str, typer.Option(help="signals ingest received since then (YYYY-MM-DD or ISO 8601)")],
    apply: Annotated[bool, typer.Option(help="raise what is missing (administrators); without it, a dry run")] = False,
    batch: Annotated[int, typer.Option(min=1, max=500)] = 500,
) -> None:
    """Stored signals through the current rules: what they would raise now, and what is not raised yet."""
    totals = {"signals": 0, "would_raise": 0, "already_raised": 0, "raised": 0}
    offset = 0
    while signals := _request(
        "ingest", "GET", "/signals", params={"since": since, "limit": batch, "offset": offset}
    ).json():
        offset += len(signals)
        if apply:
            done = _request("rules", "POST", "/replay/apply", json={"signals": signals}).json()
            totals["signals"] += done["signals"]
            totals["raised"] += done["raised"]
            continue
        found = _request("rules", "POST", "/replay", json={"signals": signals}).json()
        for key in ("signals", "would_raise", "already_raised"):
            totals[key] += found[key]
        for f in found["findings"]:
            if not f["already_raised"]:
                what = f"{f['severity']:8} {f['rule_id']:28} {f['organisation_name']}"
                typer.echo(f"would raise  {what}  (signal {f['signal_id']})")
    shown = ("signals", "raised") if apply else ("signals", "would_raise", "already_raised")
    typer.echo(json.dumps({k: totals[k] for k in shown}))


@rules_app.command("sweep")
def rules_sweep(
    as_of: Annotated[str | None, typer.Option(help="the day it looks from, YYYY-MM-DD (default: today)")] = None,
    window: Annotated[str, typer.Option(help="how far back the signals go: 3y, 18m, 90d")] = "3y",
    report: Annotated[Path | None, typer.Option(help="then write the campaign report to this .xlsx")] = None,
    top: Annotated[int, typer.Option(help="organisations of the ranking to print", min=0)] = 10,
) -> None:
    """The campaign sweep (decision-makers, administrators): the whole registry against every stored signal
    and the lists in force; a bar while it runs, then its record and the top of the risk ranking."""
    import time

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    sweep = _request("rules", "POST", "/sweeps", json={"window": window, **({"as_of": as_of} if as_of else {})}).json()
    columns = (TextColumn("{task.description:10}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[counts]}"))  # fmt: skip
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(sweep["phase"], total=1.0, counts="")
        while True:
            counts = f"{sweep['signals']:,} signals · {sweep['hits']:,} hits · {sweep['events_raised']:,} raised"
            bar.update(task, completed=sweep["progress"], description=sweep["phase"], counts=counts)
            if sweep["status"] not in ("queued", "running"):
                break
            time.sleep(1.0)
            sweep = _request("rules", "GET", f"/sweeps/{sweep['id']}").json()
    if sweep["status"] != "succeeded":
        _fail(f"sweep {sweep['id']} {sweep['status']}: {sweep['error']}")
    typer.echo(
        f"sweep {sweep['id']} ({sweep['ruleset_version']}), {sweep['since']} to {sweep['as_of']}: "
        f"{sweep['organisations']:,} organisations, {sweep['certificates']:,} certificates, "
        f"{sweep['signals']:,} signals screened; {sweep['hits']:,} hits on {sweep['organisations_hit']:,} "
        f"organisations; {sweep['events_raised']:,} risk events raised; {sweep['seconds']:.1f} s"
    )
    if top:
        for r in _request("rules", "GET", f"/sweeps/{sweep['id']}/ranking", params={"limit": top}).json():
            typer.echo(f"{r['rank']:>4}. {r['score']:7.1f} {r['band']:6} {r['organisation']} ({r['hits']} hits)")
            for reason in r["reasons"][:3]:
                typer.echo(f"        {reason['text']}")
    if report:
        _sweep_report(sweep["id"], report)


@rules_app.command("sweep-report")
def rules_sweep_report(
    output: Annotated[Path, typer.Option("--output", help="FILE.xlsx")],
    sweep: Annotated[str | None, typer.Option(help="the sweep's id (default: the latest)")] = None,
) -> None:
    """A sweep's campaign report (DOMAIN.md §6.1) as XLSX."""
    if sweep is None:
        latest = _request("rules", "GET", "/sweeps", params={"limit": 1}).json()
        if not latest:
            _fail("no sweep yet: certwatch rules sweep")
        sweep = latest[0]["id"]
    _sweep_report(str(sweep), output)


def _sweep_report(sweep_id: str, output: Path) -> None:
    url = settings_of("rules").url + f"/sweeps/{sweep_id}/report"
    headers = bearer(os.environ.get("CERTWATCH_API_TOKEN"))
    try:  # not _request: a national registry's annex takes longer than its 60 s
        response = httpx.get(url, params={"format": "xlsx"}, headers=headers, timeout=900.0)
    except httpx.HTTPError as exc:
        _fail(f"rules is not reachable at {url}: {exc}. Is the stack up? (certwatch status)")
        raise
    if response.status_code >= 400:
        _fail(f"rules answered {response.status_code}: {response.text}")
    output.write_bytes(response.content)
    typer.echo(f"wrote {output}")


@rules_app.command("token-create")
def rules_token_create(
    name: Annotated[str, typer.Argument(help="the person or system; audit trails name it")],
    role: Annotated[str, typer.Option(help="reviewer | decision_maker | administrator | regulator | feed")],
) -> None:
    """Make a token (administrators): it is printed this once; every service accepts it (CERTWATCH_API_TOKEN)."""
    made = _request("rules", "POST", "/tokens", json={"name": name, "role": role}).json()
    typer.echo(f"token for {made['name']} ({made['role']}), id {made['id']}; shown once:")
    typer.echo(made["token"])


@rules_app.command("tokens")
def rules_tokens() -> None:
    """Every token made (administrators), revoked ones too; never the tokens themselves."""
    for t in _request("rules", "GET", "/tokens").json():
        revoked = f"revoked {t['revoked_at'][:19]}" if t["revoked_at"] else "active"
        typer.echo(f"{t['id']}  {t['name']:20} {t['role']:15} {revoked}")


@rules_app.command("token-revoke")
def rules_token_revoke(token_id: str) -> None:
    """Revoke a token (administrators): it stops working at once."""
    revoked = _request("rules", "DELETE", f"/tokens/{token_id}").json()
    typer.echo(f"revoked the token of {revoked['name']} ({revoked['role']})")


@notify_app.command("deliveries")
def notify_deliveries(limit: int = 20) -> None:
    """The delivery log (recipients masked)."""
    _print(_request("notify", "GET", "/deliveries", params={"limit": limit}).json())


@reporting_app.command("summary")
def reporting_summary() -> None:
    """The dashboard's figures."""
    _print(_request("reporting", "GET", "/summary").json())


@reporting_app.command("export")
def reporting_export(
    output: Annotated[Path, typer.Option("--output", help="FILE.xlsx (every sheet) or FILE.csv (the events raised)")],
    start: Annotated[str | None, typer.Option(help="first day, YYYY-MM-DD (default: 29 days before end)")] = None,
    end: Annotated[str | None, typer.Option(help="last day, included (default: today)")] = None,
) -> None:
    """The regulator's report for a period, as XLSX or CSV."""
    suffix = output.suffix.lower().lstrip(".")
    if suffix not in ("xlsx", "csv"):
        _fail(f"{output}: the report is written as .xlsx or .csv")
    params = {"format": suffix, **({"start": start} if start else {}), **({"end": end} if end else {})}
    output.write_bytes(_request("reporting", "GET", "/reports/regulator", params=params).content)
    typer.echo(f"wrote {output}")


@app.command()
def run(
    data_dir: Annotated[Path | None, typer.Option(help="where the local stack keeps its data")] = None,
    timeout: float = 90.0,
) -> None:
    """The main job on the embedded stack: start it, load demo data, run the job once, print a summary."""
    from certwatch.mainjob import run_main_job

    run_main_job(data_dir, timeout)
