"""`certwatch run`: bring the local stack up, load the demo registry, run the job, report what happened."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import typer

from certwatch import demo
from certwatch import stack as local_stack
from certwatch.services import settings_of
from shared.settings import data_dir as default_data_dir


def _wait_for(probe: Callable[[], int], expected: int, timeout: float) -> int:
    """Poll until `probe()` reaches `expected` (the services work asynchronously), or until `timeout`."""
    deadline = time.monotonic() + timeout
    value = probe()
    while value < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        value = probe()
    return value


def _delivered(notify: str) -> int:
    deliveries = httpx.get(f"{notify}/deliveries", params={"limit": 500}, timeout=10).json()
    return sum(d["status"] == "delivered" for d in deliveries)


def run_main_job(data_dir: Path | None, timeout: float) -> None:
    folder = data_dir or default_data_dir()
    local_stack.up(folder)
    local_stack.load_env(folder)
    rules, ingest, reporting, notify = (settings_of(s).url for s in ("rules", "ingest", "reporting", "notify"))
    typer.echo("loading the demo registry …")
    imported = httpx.post(
        f"{rules}/organisations/import",
        files={"file": ("demo-registry.csv", demo.registry_csv())},
        timeout=60,
    ).json()
    typer.echo("running the job: ingesting tonight's signals …")
    results = [httpx.post(f"{ingest}/signals", json=s, timeout=30).json() for s in demo.signals()]
    count = _wait_for(
        lambda: int(httpx.get(f"{reporting}/risk-events/count", timeout=10).json()["risk_events_raised"]),
        demo.expected_risk_events(),
        timeout,
    )
    alerts = _wait_for(lambda: _delivered(notify), demo.expected_alerts(), timeout)
    summary = {
        "registry": {k: imported[k] for k in ("rows", "created", "updated", "unchanged", "rejected_rows")},
        "signals": {"posted": len(results), "new": sum(not r["duplicate"] for r in results)},
        "risk_events_raised": count,
        "alerts_delivered": alerts,
    }
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    typer.echo(f"\nrisk events raised (read back from reporting): {count}")
    for name, url in (("ingest", ingest), ("rules", rules), ("notify", notify), ("reporting", reporting)):
        typer.echo(f"  {name:10} {url}/docs")
    typer.echo(f"  mail sink  {folder / 'mail'}")
    typer.echo("The stack is still up: `make status`, `make down`.")
