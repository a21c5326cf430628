"""The `certwatch` command's groups with no stack running: each lists its commands, an unknown command is a usage
error (exit 2), a command that needs a service says it is not reachable and to check the stack (exit 1), and
input it can judge alone is refused before anything is called."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from certwatch.cli import app
from certwatch.services import SERVICES
from certwatch.stack.environment import write_env
from certwatch.stack.processes import free_port

COMMANDS = {
    "db": ["migrate", "revision"],
    "kafka": ["ensure-topics", "lag", "dlq", "replay-dlq", "republish"],
    "ingest": ["signal", "file", "run"],
    "rules": [
        "import-registry",
        "risk-events",
        "risk-event",
        "assign",
        "decide",
        "close",
        "replay",
        "sweep",
        "sweep-report",
        "token-create",
        "tokens",
        "token-revoke",
    ],
    "notify": ["deliveries"],
    "reporting": ["summary", "export"],
}
TOP_LEVEL = ["up", "down", "status", "serve", "compile", "screen", "run", *COMMANDS]


@pytest.fixture
def no_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Every service pointed at a port nothing listens on (whatever .data/stack.env says); their URLs."""
    urls = {}
    for service in SERVICES:
        urls[service] = f"http://127.0.0.1:{free_port()}"
        monkeypatch.setenv(f"CERTWATCH_{service.upper()}_BASE_URL", urls[service])
    monkeypatch.setenv("CERTWATCH_API_TOKEN", "not-a-real-token")
    yield urls


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def listed(help_text: str) -> set[str]:
    """The names in the help's Commands panel."""
    commands = help_text.split("Commands", 1)[1]
    return {found[1] for line in commands.splitlines() if (found := re.match(r"│ ([a-z][a-z-]*) ", line))}


@pytest.mark.parametrize("group", sorted(COMMANDS))
def test_each_group_lists_its_commands(group: str) -> None:
    result = invoke(group, "--help")
    assert result.exit_code == 0, result.output
    assert listed(result.output) == set(COMMANDS[group])


@pytest.mark.parametrize("group", sorted(COMMANDS))
def test_an_unknown_command_of_a_group_is_a_usage_error(group: str) -> None:
    result = invoke(group, "no-such-command")
    assert result.exit_code == 2
    assert "No such command 'no-such-command'" in result.output


def test_the_root_lists_the_stack_commands_and_every_group() -> None:
    result = invoke("--help")
    assert result.exit_code == 0, result.output
    assert listed(result.output) == set(TOP_LEVEL)
    assert invoke("no-such-command").exit_code == 2


@pytest.mark.parametrize(
    ("args", "service"),
    [
        (["notify", "deliveries"], "notify"),
        (["reporting", "summary"], "reporting"),
        (["rules", "risk-events"], "rules"),
        (["rules", "tokens"], "rules"),
        (["rules", "replay", "--since", "2026-01-01"], "ingest"),  # it reads ingest's signals first
        (["ingest", "signal", "--kind", "spot_check_failure", "--name", "某某有限公司"], "ingest"),
    ],
)
def test_a_command_that_needs_a_service_says_the_stack_is_not_up(
    args: list[str], service: str, no_stack: dict[str, str]
) -> None:
    result = invoke(*args)
    assert result.exit_code == 1
    assert f"{service} is not reachable at {no_stack[service]}" in result.output
    assert "Is the stack up? (certwatch status)" in result.output
    assert "not-a-real-token" not in result.output


def test_a_report_in_another_format_is_refused_before_asking_reporting(
    tmp_path: Path, no_stack: dict[str, str]
) -> None:
    result = invoke("reporting", "export", "--output", str(tmp_path / "report.pdf"))
    assert result.exit_code == 1
    assert "report.pdf: the report is written as .xlsx or .csv" in result.output
    assert "not reachable" not in result.output and not (tmp_path / "report.pdf").exists()
    wanted = invoke("reporting", "export", "--output", str(tmp_path / "report.csv"))
    assert wanted.exit_code == 1 and "reporting is not reachable" in wanted.output
    assert not (tmp_path / "report.csv").exists()  # nothing written when the service did not answer


def test_input_is_judged_before_any_service_is_called(tmp_path: Path, no_stack: dict[str, str]) -> None:
    missing = tmp_path / "absent.csv"
    unknown_kind = invoke("ingest", "file", "--kind", "gossip", str(missing))
    assert unknown_kind.exit_code == 1 and "unknown kind 'gossip'; choose one of spot_check" in unknown_kind.output
    no_file = invoke("ingest", "file", "--kind", "spot_check", str(missing))
    assert no_file.exit_code == 1 and f"{missing}: no such file" in no_file.output
    no_input = invoke("screen", "--input", str(missing), "--output", str(tmp_path / "out.csv"))
    assert no_input.exit_code == 1 and f"{missing}: no such file" in no_input.output
    bad_service = invoke("serve", "billing")
    assert bad_service.exit_code == 1 and "unknown service 'billing'; choose one of ingest, rules" in bad_service.output


def test_status_of_a_folder_where_nothing_runs_shows_everything_stopped(tmp_path: Path) -> None:
    write_env(tmp_path, {"CERTWATCH_ADMIN_DATABASE_URL": "postgresql://certwatch_admin:hunter2secret@127.0.0.1:1/x"})
    result = invoke("status", "--data-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines() if "pid=" in line}
    assert rows and all(" stopped " in line for line in rows.values())
    assert "postgres" in rows and "certwatch_admin:***@127.0.0.1:1/x" in rows["postgres"]
    assert "hunter2secret" not in result.output
    assert f"settings: {tmp_path / 'stack.env'}" in result.output


def test_down_where_nothing_runs_says_so(tmp_path: Path) -> None:
    result = invoke("down", "--data-dir", str(tmp_path))
    assert result.exit_code == 0 and "stopped: nothing was running" in result.output
