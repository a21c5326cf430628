"""`certwatch run`: bring the local stack up, load the demo registry, run the nightly job once,
and report what happened, reading the risk-event count back from reporting."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import typer

from certwatch import stack as local_stack
from certwatch.demo import registry as demo
from certwatch.mailsink import first_page_link
from certwatch.services import bearer, settings_of
from shared.contracts import Topic
from shared.kafka.lag import group_lag
from shared.settings import PlatformSettings
from shared.settings import data_dir as default_data_dir

PIPELINE = [  # (consumer group, topics), in the order work flows through them
    ("certwatch-rules", [Topic.SIGNAL_RECEIVED_V2.value, Topic.SIGNAL_RECEIVED.value]),
    ("certwatch-notify", [Topic.RISK_EVENT_RAISED.value, Topic.ORGANISATION_UPDATED.value]),
    ("certwatch-reporting", [Topic.RISK_EVENT_RAISED.value, Topic.NOTIFICATION_DELIVERED.value]),
]


async def _drained(platform: PlatformSettings, group: str, topics: list[str], deadline: float) -> bool:
    while time.monotonic() < deadline:
        if not await group_lag(platform, group, topics):
            return True
        await asyncio.sleep(0.5)
    return False


async def _caught_up(timeout: float) -> bool:
    """Wait until every consumer group has committed everything on its topics (lag 0), in flow order,
    twice: the second pass covers what the relays published while the first one waited."""
    platform = PlatformSettings()
    deadline = time.monotonic() + timeout
    for _ in range(2):
        for group, topics in PIPELINE:
            if not await _drained(platform, group, topics, deadline):
                return False
        await asyncio.sleep(1.0)
    return True


def _delivered(notify: str) -> int:
    deliveries = httpx.get(f"{notify}/deliveries", params={"limit": 500}, headers=bearer(), timeout=10).json()
    return sum(d["status"] == "delivered" for d in deliveries)


def _nightly_run(ingest: str, feed_token: str) -> list[dict[str, Any]]:
    """What the scheduler does at 02:00: every configured feed, one after the other (as the stack's feed writer)."""
    runs, headers = [], bearer(feed_token)
    for feed in httpx.get(f"{ingest}/feeds", headers=headers, timeout=10).json():
        result = httpx.post(f"{ingest}/feeds/{feed['name']}/runs", headers=headers, timeout=600).json()
        runs.append(result)
        typer.echo(
            f"  {feed['name']:26} {result['status']:12} read {result['read']:>5}  accepted {result['accepted']:>5}  "
            f"rejected {result['rejected']:>3}  duplicates {result['duplicates']:>5}  "
            f"published {result['published']:>5}"
        )
    return runs


def _campaign_sweep(rules: str, timeout: float) -> dict[str, Any]:
    """The campaign sweep over the demo registry (issue 16): its record once it has ended."""
    sweep: dict[str, Any] = httpx.post(f"{rules}/sweeps", json={"window": "3y"}, headers=bearer(), timeout=30).json()
    deadline = time.monotonic() + timeout
    while sweep.get("status") in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        sweep = httpx.get(f"{rules}/sweeps/{sweep['id']}", headers=bearer(), timeout=10).json()
    return sweep


def run_main_job(data_dir: Path | None, timeout: float) -> None:
    folder = data_dir or default_data_dir()
    local_stack.up(folder)
    local_stack.load_env(folder)
    rules, ingest, reporting, notify = (settings_of(s).url for s in ("rules", "ingest", "reporting", "notify"))
    typer.echo("loading the demo registry …")
    files = {"file": ("demo-registry.csv", demo.registry_csv())}
    url = f"{rules}/organisations/import?wait=true"  # the report once committed (else 202 and a job to follow)
    imported = httpx.post(url, files=files, headers=bearer(), timeout=600).json()
    typer.echo("running the nightly job: every feed from the local feed server …")
    runs = _nightly_run(ingest, local_stack.feed_token(folder))
    typer.echo("waiting for rules, notify and reporting to catch up …")
    caught_up = asyncio.run(_caught_up(timeout))
    typer.echo("running the campaign sweep: the whole registry against every stored signal and the lists in force …")
    sweep = _campaign_sweep(rules, timeout)
    count = int(httpx.get(f"{reporting}/risk-events/count", headers=bearer(), timeout=10).json()["risk_events_raised"])
    alerts = _delivered(notify)
    summary = {
        "registry": {k: imported[k] for k in ("rows", "created", "updated", "unchanged", "rejected_rows")},
        "feeds": {k: sum(r[k] for r in runs) for k in ("read", "accepted", "rejected", "duplicates", "published")},
        "risk_events_raised": count,
        "alerts_delivered": alerts,
        "consumers_caught_up": caught_up,
        "campaign_sweep": {
            k: sweep.get(k)
            for k in (
                "status",
                "organisations",
                "certificates",
                "signals",
                "hits",
                "organisations_hit",
                "events_raised",
                "seconds",
                "error",
            )
        },
    }
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    typer.echo(f"\nrisk events raised (read back from reporting): {count}")
    for name, url in (("ingest", ingest), ("rules", rules), ("notify", notify), ("reporting", reporting)):
        typer.echo(f"  {name:10} {url}/docs")
    typer.echo(f"  campaign   {rules}/sweeps/{sweep.get('id')} (report: certwatch rules sweep-report --output c.xlsx)")
    typer.echo(f"  mail sink  {folder / 'mail'}")
    typer.echo(
        f"  an alert's page (the organisation's signed link)  {first_page_link(folder / 'mail') or 'no alert yet'}"
    )
    typer.echo("The stack is still up: `make status`, `make down`.")
    typer.echo(f"\nThe dashboard: {reporting}/dashboard")
    typer.echo(
        f"  log in at {reporting}/login with a token: the administrator's (CERTWATCH_AUTH_ADMIN_TOKEN in "
        f"{folder / 'stack.env'}),"
    )
    typer.echo("  or a read-only one from `certwatch rules token-create NAME --role regulator`")
