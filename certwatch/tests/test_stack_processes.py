"""The stack's process and file helpers on real processes and files: ports, spawn/alive/terminate (a pid is ours
only with its start time), private files, masked passwords, stack.json and stack.env, secrets kept once made."""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from certwatch.services import SERVICES
from certwatch.stack.environment import (
    admin_token,
    feed_token,
    load_env,
    mask_password,
    read_env,
    read_state,
    role_passwords,
    with_database,
    write_env,
    write_private,
    write_state,
)
from certwatch.stack.postgres import schema_of
from certwatch.stack.processes import (
    ProcessHandle,
    StackError,
    alive,
    free_port,
    port_open,
    reusable_port,
    spawn,
    started_at,
    tail,
    terminate,
    wait_for_port,
)

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def listener() -> Iterator[int]:
    """A port something listens on, for as long as the test runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[int]:
    """A real detached process that would run a minute; stopped after the test whatever happens."""
    pid = spawn(SLEEPER, tmp_path / "logs" / "sleeper.log")
    try:
        yield pid
    finally:
        terminate(pid, timeout=2)


# ---------------------------------------------------------------- ports


def test_a_free_port_is_free_and_a_listening_one_is_open(listener: int) -> None:
    port = free_port()
    assert 0 < port < 65536 and not port_open(port)
    assert port_open(listener)


def test_a_remembered_port_is_kept_while_free_and_replaced_once_taken(listener: int) -> None:
    remembered = free_port()
    assert reusable_port(remembered) == remembered
    replacement = reusable_port(listener)
    assert replacement != listener and not port_open(replacement)
    assert not port_open(reusable_port(None))


def test_waiting_for_a_port_returns_once_it_is_open(listener: int) -> None:
    wait_for_port(listener, "listener", None, timeout=1)


def test_waiting_for_a_port_names_the_process_that_died_and_its_log(tmp_path: Path) -> None:
    log = tmp_path / "crash.log"
    pid = spawn([sys.executable, "-c", "print('bad config: no such table'); raise SystemExit(3)"], log)
    with pytest.raises(StackError, match="exited before opening port") as failure:
        wait_for_port(free_port(), "crasher", log, pid=pid, timeout=20)
    assert "bad config: no such table" in str(failure.value) and str(log) in str(failure.value)


def test_waiting_for_a_port_nobody_opens_times_out(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"did not open port \d+ within 0s"):
        wait_for_port(free_port(), "nothing", tmp_path / "absent.log", timeout=0.2)


def test_a_log_tail_is_its_last_lines_and_nothing_without_a_log(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    log.write_text("".join(f"line {i}\n" for i in range(30)))
    lines = tail(log, lines=3).splitlines()
    assert lines[1:] == ["line 27", "line 28", "line 29"] and str(log) in lines[0]
    assert tail(None) == tail(tmp_path / "absent.log") == ""


# ---------------------------------------------------------------- processes


def test_a_spawned_process_is_alive_in_its_own_session_until_terminated(sleeper: int, tmp_path: Path) -> None:
    assert alive(sleeper)
    assert os.getsid(sleeper) == sleeper  # its own session and group: `down` stops what it started too
    assert (tmp_path / "logs" / "sleeper.log").exists()
    terminate(sleeper, timeout=5)
    assert not alive(sleeper)
    terminate(sleeper)  # a second time: nothing to do, no error


def test_a_pid_is_ours_only_while_its_start_time_matches(sleeper: int) -> None:
    started = started_at(sleeper)
    assert started is not None and started.isdigit()
    assert alive(sleeper, started)
    # The same pid with another start time is someone else's process (after a reboot): not alive, never signalled.
    other = str(int(started) + 1)
    assert not alive(sleeper, other)
    terminate(sleeper, timeout=1, started=other)
    assert alive(sleeper)


def test_no_pid_or_a_finished_process_is_not_alive(tmp_path: Path) -> None:
    assert not alive(None) and not alive(0)
    pid = spawn([sys.executable, "-c", "pass"], tmp_path / "quick.log")
    deadline = time.monotonic() + 20
    while alive(pid) and time.monotonic() < deadline:  # a zombie counts as finished (and is reaped)
        time.sleep(0.05)
    assert not alive(pid)
    assert started_at(pid) is None


def test_terminate_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    )
    log = tmp_path / "stubborn.log"
    pid = spawn([sys.executable, "-c", stubborn], log)
    try:
        deadline = time.monotonic() + 20
        while "ready" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        terminate(pid, timeout=0.3)
        assert not alive(pid)
    finally:
        terminate(pid, timeout=1)


def test_a_process_handle_stops_its_process(sleeper: int) -> None:
    ProcessHandle(pid=sleeper, port=free_port()).stop()
    assert not alive(sleeper)


# ---------------------------------------------------------------- files and secrets


def test_a_private_file_is_mode_600_and_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "secret.txt"
    write_private(path, "first")
    assert mode(path) == 0o600 and path.read_text() == "first"
    path.chmod(0o644)
    write_private(path, "second")
    assert mode(path) == 0o600 and path.read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.txt"]  # no temporary file left behind


def test_a_masked_url_never_shows_the_password() -> None:
    for secret in ("s3cr3t", "with/slash", "a:b", "%40pct"):
        url = f"postgresql+asyncpg://certwatch_notify:{secret}@127.0.0.1:5432/certwatch"
        masked = mask_password(url)
        assert secret not in masked, masked
        assert masked.startswith("postgresql+asyncpg://certwatch_notify:***@")


def test_another_database_keeps_server_and_credentials() -> None:
    dsn = "postgresql://certwatch_admin:pw@127.0.0.1:5432/postgres"
    assert with_database(dsn, "certwatch") == "postgresql://certwatch_admin:pw@127.0.0.1:5432/certwatch"


def test_a_service_role_owns_the_schema_of_its_name() -> None:
    assert [schema_of(f"certwatch_{s}") for s in SERVICES] == list(SERVICES)


def test_stack_state_round_trips_and_is_empty_where_nothing_ran(tmp_path: Path) -> None:
    assert read_state(tmp_path) == {}
    state = {"postgres": {"pid": 123, "port": 5432, "started": "4567"}, "services": {"rules": {"port": 8102}}}
    write_state(tmp_path, state)
    assert read_state(tmp_path) == state
    assert json.loads((tmp_path / "stack.json").read_text()) == state


def test_stack_env_round_trips_values_holding_equals_signs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert read_env(tmp_path) == {}
    env = {"CERTWATCH_B": "postgresql://u:p=q@h/db", "CERTWATCH_A": "1", "CERTWATCH_EMPTY": ""}
    write_env(tmp_path, env)
    assert mode(tmp_path / "stack.env") == 0o600
    assert (tmp_path / "stack.env").read_text().splitlines()[0] == "CERTWATCH_A=1"  # sorted
    assert read_env(tmp_path) == env
    monkeypatch.delenv("CERTWATCH_B", raising=False)
    monkeypatch.setenv("CERTWATCH_A", "old")
    assert load_env(tmp_path) == env
    assert os.environ["CERTWATCH_A"] == "1" and os.environ["CERTWATCH_B"] == "postgresql://u:p=q@h/db"


def test_secrets_are_made_once_per_data_folder_and_kept_private(tmp_path: Path) -> None:
    first, other = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    other.mkdir()
    passwords = role_passwords(first)
    assert set(passwords) == set(SERVICES) and len(set(passwords.values())) == len(SERVICES)
    assert role_passwords(first) == passwords
    assert role_passwords(other) != passwords
    assert (admin_token(first), feed_token(first)) == (admin_token(first), feed_token(first))
    assert admin_token(first) != feed_token(first) and admin_token(first) != admin_token(other)
    for name in ("roles.secret.json", "admin-token.secret", "feed-token.secret"):
        assert mode(first / name) == 0o600, name
    write_state(first, {"postgres": {"port": 1}})
    state = (first / "stack.json").read_text()
    assert not any(secret in state for secret in [*passwords.values(), admin_token(first), feed_token(first)])
