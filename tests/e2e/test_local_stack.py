"""`certwatch run` and `certwatch down` as a user runs them: real processes in a folder of their own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest

from certwatch.stack.environment import read_state
from certwatch.stack.postgres import cluster_dir, pg_running
from certwatch.stack.processes import alive
from shared import workdays

pytestmark = pytest.mark.integration
CERTWATCH = str(Path(sys.executable).parent / "certwatch")


@pytest.fixture
def data_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="certwatch-stack-"))
    folder.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTWATCH_")}
    try:
        yield folder
    finally:
        subprocess.run([CERTWATCH, "down", "--data-dir", str(folder)], env=env, check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def certwatch(*args: str, data_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CERTWATCH_")}, **(env or {})}
    env["CERTWATCH_DATA_DIR"] = str(data_dir)
    return subprocess.run([CERTWATCH, *args], env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.timeout(900)  # two full runs and a sweep on the local stack: minutes on a loaded 2-core machine
def test_run_raises_risk_events_read_back_from_reporting_and_down_leaves_nothing_behind(
    data_dir: Path,
) -> None:
    result = certwatch("run", "--data-dir", str(data_dir), data_dir=data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout[result.stdout.index("{") : result.stdout.rindex("}") + 1])
    raised = summary["risk_events_raised"]
    assert raised >= 7, result.stdout  # every list, status and recall signal that names a registry code
    assert f"risk events raised (read back from reporting): {raised}" in result.stdout
    assert summary["feeds"]["rejected"] == 11 and summary["feeds"]["published"] > 2000
    emails, texts = list((data_dir / "mail").glob("*.eml")), list((data_dir / "sms").glob("*.json"))
    assert len(emails) == len(texts) == raised  # one email and one SMS per risk event (one contact each)
    assert summary["alerts_delivered"] == 2 * raised

    again = certwatch("run", "--data-dir", str(data_dir), data_dir=data_dir)
    assert again.returncode == 0, again.stderr
    rerun = json.loads(again.stdout[again.stdout.index("{") : again.stdout.rindex("}") + 1])
    assert rerun["feeds"]["published"] == 0  # unchanged files: 304 Not Modified, nothing published twice
    assert rerun["risk_events_raised"] == raised
    # The campaign sweep may raise what the nightly flow missed (the first run); a second sweep raises nothing.
    assert rerun["campaign_sweep"]["events_raised"] == 0, rerun["campaign_sweep"]
    for run in (summary, rerun):
        sweep = run["campaign_sweep"]
        assert sweep["status"] == "succeeded", sweep
        assert sweep["certificates"] >= sweep["organisations"] > 0 and sweep["hits"] >= raised, sweep
    report = data_dir / "campaign.xlsx"
    swept = certwatch("rules", "sweep", "--top", "3", "--report", str(report), data_dir=data_dir)
    assert swept.returncode == 0 and "0 risk events raised" in swept.stdout, swept.stdout + swept.stderr
    assert "一、排查范围与覆盖" in openpyxl.load_workbook(report, read_only=True).sheetnames

    status = certwatch("status", "--data-dir", str(data_dir), data_dir=data_dir)
    assert status.stdout.count(" ready ") == 8, status.stdout  # each service: its api and its worker

    signal = certwatch(
        "ingest",
        "signal",
        "--kind",
        "serious_illegal_listed",
        "--name",
        "某某公司",
        "--credit-code",
        "91330212PDY0010124",
        data_dir=data_dir,
    )
    assert signal.returncode == 0, signal.stderr
    assert json.loads(signal.stdout)["credit_code_status"] == "invalid"

    # A decision-maker works an event from the command line: assign, decide (a bad request says what is
    # wrong), close.
    listed = certwatch("rules", "risk-events", "--limit", "1", data_dir=data_dir)
    event_id = listed.stdout.split()[0]
    made = certwatch("rules", "token-create", "dm-wang", "--role", "decision_maker", data_dir=data_dir)
    assert made.returncode == 0, made.stderr  # made with the stack's administrator token
    dm = {"CERTWATCH_API_TOKEN": made.stdout.split()[-1]}
    as_admin = certwatch("rules", "assign", event_id, "--to", "reviewer-li", data_dir=data_dir)
    assert as_admin.returncode == 1 and "may not review risk events" in as_admin.stderr
    assigned = certwatch("rules", "assign", event_id, "--to", "reviewer-li", data_dir=data_dir, env=dm)
    assert assigned.returncode == 0 and "in_review, assigned to reviewer-li" in assigned.stdout, assigned.stderr
    decide = ["rules", "decide", event_id, "--measure", "corrective_action", "--reason", "整改"]
    no_due = certwatch(*decide, data_dir=data_dir, env=dm)
    assert no_due.returncode == 1 and "corrective_action_due" in no_due.stderr
    due = (workdays.today() + timedelta(days=30)).isoformat()
    decided = certwatch(*decide, "--due", due, data_dir=data_dir, env=dm)
    assert decided.returncode == 0 and "decided, corrective_action" in decided.stdout, decided.stderr
    closed = certwatch("rules", "close", event_id, "--reason", "整改完成", data_dir=data_dir, env=dm)
    assert closed.returncode == 0 and "closed" in closed.stdout, closed.stderr
    trail = json.loads(certwatch("rules", "risk-event", event_id, data_dir=data_dir).stdout)["audit"]
    assert [(a["action"], a["actor"]) for a in trail] == [
        ("raised", "system"), ("assigned", "dm-wang"), ("decided", "dm-wang"), ("closed", "dm-wang"),
    ]  # fmt: skip

    replayed = certwatch(
        "rules", "replay", "--since", (workdays.today() - timedelta(days=1)).isoformat(), data_dir=data_dir
    )
    assert replayed.returncode == 0, replayed.stderr
    totals = json.loads(replayed.stdout.splitlines()[-1])
    assert totals["signals"] > 2000 and totals["would_raise"] == 0 and totals["already_raised"] == raised

    exported = certwatch("reporting", "export", "--output", str(data_dir / "report.xlsx"), data_dir=data_dir)
    assert exported.returncode == 0, exported.stderr
    book = openpyxl.load_workbook(data_dir / "report.xlsx")
    assert book["Risk events raised"].max_row == raised + 1  # a header, then every event of the run
    bad = certwatch("reporting", "export", "--output", str(data_dir / "report.pdf"), data_dir=data_dir)
    assert bad.returncode == 1 and ".xlsx or .csv" in bad.stderr

    state = read_state(data_dir)
    pids = [e["pid"] for kind in ("services", "workers") for e in state[kind].values()]  # api and worker
    pids += [read_state(data_dir)[name]["pid"] for name in ("broker", "mail", "sms")]
    down = certwatch("down", "--data-dir", str(data_dir), data_dir=data_dir)
    assert down.returncode == 0
    assert not [pid for pid in pids if alive(pid)]
    assert not pg_running(cluster_dir(data_dir))
    again = certwatch("down", "--data-dir", str(data_dir), data_dir=data_dir)
    assert "nothing was running" in again.stdout
