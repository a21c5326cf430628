"""`certwatch run`: bring the local stack up, load the demo registry, run the nightly job once,
and report what happened, reading the risk-event count back from reporting."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import typer

from certwatch import demo
from certwatch import stack as local_stack
from certwatch.services import settings_of
from shared.settings import data_dir as default_data_dir


def _settled(probe: Callable[[], int], quiet: float, timeout: float) -> int:
    """Poll until the value is non-zero and has not changed for `quiet` seconds (or until `timeout`)."""
    deadline = time.monotonic() + timeout
    value, since = probe(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = probe()
        if now != value:
            value, since = now, time.monotonic()
        elif value and time.monotonic() - since >= quiet:
            break
    return value


def _delivered(notify: str) -> int:
    deliveries = httpx.get(f"{notify}/deliveries", params={"limit": 500}, timeout=10).json()
    return sum(d["status"] == "delivered" for d in deliveries)


def _nightly_run(ingest: str) -> list[dict[str, Any]]:
    """What the scheduler does at 02:00: every configured feed, one after the other."""
    runs = []
    for feed in httpx.get(f"{ingest}/feeds", timeout=10).json():
        result = httpx.post(f"{ingest}/feeds/{feed['name']}/runs", timeout=600).json()
        runs.append(result)
        typer.echo(
            f"  {feed['name']:26} {result['status']:12} read {result['read']:>5}  accepted {result['accepted']:>5}  "
            f"rejected {result['rejected']:>3}  duplicates {result['duplicates']:>5}  "
            f"published {result['published']:>5}"
        )
    return runs


def run_main_job(data_dir: Path | None, timeout: float) -> None:
    folder = data_dir or default_data_dir()
    local_stack.up(folder)
    local_stack.load_env(folder)
    rules, ingest, reporting, notify = (settings_of(s).url for s in ("rules", "ingest", "reporting", "notify"))
    typer.echo("loading the demo registry …")
    files = {"file": ("demo-registry.csv", demo.registry_csv())}
    imported = httpx.post(f"{rules}/organisations/import", files=files, timeout=60).json()
    typer.echo("running the nightly job: every feed from the local feed server …")
    runs = _nightly_run(ingest)
    count = _settled(
        lambda: int(httpx.get(f"{reporting}/risk-events/count", timeout=10).json()["risk_events_raised"]), 3.0, timeout
    )
    alerts = _settled(lambda: _delivered(notify), 2.0, 30)
    summary = {
        "registry": {k: imported[k] for k in ("rows", "created", "updated", "unchanged", "rejected_rows")},
        "feeds": {k: sum(r[k] for r in runs) for k in ("read", "accepted", "rejected", "duplicates", "published")},
        "risk_events_raised": count,
        "alerts_delivered": alerts,
    }
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    typer.echo(f"\nrisk events raised (read back from reporting): {count}")
    for name, url in (("ingest", ingest), ("rules", rules), ("notify", notify), ("reporting", reporting)):
        typer.echo(f"  {name:10} {url}/docs")
    typer.echo(f"  mail sink  {folder / 'mail'}")
    typer.echo("The stack is still up: `make status`, `make down`.")
