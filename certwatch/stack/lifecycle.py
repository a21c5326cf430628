"""The whole stack: `up` (infrastructure, then each service's api and worker), `down` and `status`.

Every component is recorded in `stack.json` as soon as it runs, so `down` finds it even after a failed `up`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from certwatch.services import SERVICES
from certwatch.stack.broker import start_broker
from certwatch.stack.environment import (
    DATABASE,
    mask_password,
    read_env,
    read_state,
    role_passwords,
    stack_env,
    write_env,
    write_state,
)
from certwatch.stack.postgres import (
    cluster_dir,
    pg_running,
    postmaster_pid,
    provision_database,
    start_postgres,
    stop_postgres,
)
from certwatch.stack.processes import (
    ProcessHandle,
    StackError,
    alive,
    reusable_port,
    spawn,
    started_at,
    tail,
    terminate,
)
from certwatch.stack.sinks import SinkHandle, start_feed_server, start_mail_sink, start_sms_sink

BIN = Path(sys.executable).parent
READY_TIMEOUT = 90.0

SINKS: dict[str, Callable[[Path, int | None], ProcessHandle]] = {
    "broker": start_broker,
    "mail": start_mail_sink,
    "sms": start_sms_sink,
    "feeds": start_feed_server,
}


def _running(entry: dict[str, Any] | None) -> bool:
    entry = entry or {}
    return alive(entry.get("pid"), entry.get("started"))


def _record(handle: ProcessHandle, **extra: Any) -> dict[str, Any]:
    return {"pid": handle.pid, "started": started_at(handle.pid), "port": handle.port, **extra}


def _cluster(data_dir: Path, state: dict[str, Any]) -> Path:
    return Path(state.get("postgres", {}).get("cluster") or cluster_dir(data_dir))


def is_up(data_dir: Path) -> bool:
    """Whether every component of the stack in `data_dir` runs and every service answers /readyz."""
    state = read_state(data_dir)
    if not state or not (data_dir / "stack.env").exists():
        return False
    if not pg_running(_cluster(data_dir, state)):
        return False
    services, workers = state.get("services", {}), state.get("workers", {})
    if not all(_running(state.get(name)) for name in SINKS) or not set(services) == set(workers) == set(SERVICES):
        return False
    return all(_running(e) and _ready(e.get("port")) for e in [*services.values(), *workers.values()])


def up(data_dir: Path) -> dict[str, Any]:
    """Start whatever is not running yet and return the state once every service is ready; no-op when up."""
    data_dir = data_dir.absolute()
    if is_up(data_dir):
        return read_state(data_dir)
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    state = read_state(data_dir)
    env, restarted = _start_infrastructure(data_dir, state)
    # Services must reconnect to a new PostgreSQL or (in-memory, so empty) broker, or to moved endpoints.
    restart = restarted or env != read_env(data_dir)
    write_env(data_dir, env)
    setup_log = data_dir / "logs" / "setup.log"
    _certwatch("db", "migrate", env=env, log=setup_log)
    _certwatch("kafka", "ensure-topics", env=env, log=setup_log)
    _start_services(data_dir, state, env, restart)
    deadline = time.monotonic() + READY_TIMEOUT
    for service in SERVICES:
        _wait_ready(service, state["services"][service], log_of(data_dir, service, "api"), deadline)
        _wait_ready(f"{service} worker", state["workers"][service], log_of(data_dir, service, "worker"), deadline)
    return state


def _start_infrastructure(data_dir: Path, state: dict[str, Any]) -> tuple[dict[str, str], bool]:
    """PostgreSQL (provisioned), the broker and the sinks, each recorded as soon as it runs so `down` finds it.

    Returns the stack's environment and whether PostgreSQL or the broker had to be (re)started.
    """
    restarted = not pg_running(_cluster(data_dir, state)) or not _running(state.get("broker"))
    pg = start_postgres(data_dir, state.get("postgres", {}).get("port"))
    state["postgres"] = {"port": pg.port, "cluster": str(pg.cluster)}
    write_state(data_dir, state)
    roles = {f"certwatch_{s}": p for s, p in role_passwords(data_dir).items()}
    asyncio.run(provision_database(pg.admin_dsn, DATABASE, roles))
    for name, start in SINKS.items():
        if not _running(state.get(name)):
            handle = start(data_dir, (state.get(name) or {}).get("port"))
            state[name] = _record(handle, **({"dir": str(handle.maildir)} if isinstance(handle, SinkHandle) else {}))
            write_state(data_dir, state)
    services = state.setdefault("services", {})
    ports = {s: _service_port(services.get(s)) for s in SERVICES}
    ports_of = (state["broker"]["port"], state["mail"]["port"], state["sms"]["port"])
    return stack_env(data_dir, pg.port, pg.admin_dsn, *ports_of, ports), restarted


def _service_port(entry: dict[str, Any] | None) -> int:
    entry = entry or {}
    return int(entry["port"]) if _running(entry) else reusable_port(entry.get("port"))


def _start_services(data_dir: Path, state: dict[str, Any], env: dict[str, str], restart: bool) -> None:
    """Start each service's two processes not running (all of them when the endpoints changed): its api
    and its worker (issue 13: a backlog never shares an event loop with reads), recording each pid at once."""
    workers = state.setdefault("workers", {})
    for service in SERVICES:
        for role, entries in (("worker", workers), ("api", state["services"])):
            entry = entries.get(service)
            if _running(entry) and not restart:
                continue
            if entry:
                terminate(entry.get("pid"), started=entry.get("started"))
            port = int(env[f"CERTWATCH_{service.upper()}_PORT"]) if role == "api" else _service_port(entry)
            entries[service] = start_service(data_dir, service, role, port, env)
            write_state(data_dir, state)


def log_of(data_dir: Path, service: str, role: str) -> Path:
    """`logs/<service>.log` (the api, or the one process of role all), `logs/<service>-worker.log`."""
    return data_dir / "logs" / (f"{service}.log" if role != "worker" else f"{service}-worker.log")


def start_service(data_dir: Path, service: str, role: str, port: int, env: dict[str, str]) -> dict[str, Any]:
    """`certwatch serve <service> --role <role> --port <port>` detached; its state entry."""
    argv = [str(BIN / "certwatch"), "serve", service, "--role", role, "--port", str(port)]
    pid = spawn(argv, log_of(data_dir, service, role), env={**os.environ, **env})
    return _record(ProcessHandle(pid, port), url=f"http://127.0.0.1:{port}")


def _certwatch(*args: str, env: dict[str, str], log: Path) -> None:
    """Run a `certwatch` subcommand against the stack; its output goes to the setup log."""
    command = f"certwatch {' '.join(args)}"
    try:
        result = subprocess.run(
            [str(BIN / "certwatch"), *args], env={**os.environ, **env}, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise StackError(f"`{command}` cannot run: {BIN / 'certwatch'} is missing (make install)") from exc
    with log.open("a") as out:
        out.write(f"$ {command}\n{result.stdout}{result.stderr}")
    if result.returncode != 0:
        raise StackError(f"`{command}` failed (exit {result.returncode}){tail(log)}")


def _wait_ready(service: str, entry: dict[str, Any], log: Path, deadline: float) -> None:
    """Poll GET /readyz until 200; fail with the log's tail if the process dies or time runs out."""
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not _running(entry):
            raise StackError(f"service {service} exited during startup{tail(log)}")
        try:
            response = httpx.get(f"http://127.0.0.1:{entry['port']}/readyz", timeout=2.0)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = str(exc) or type(exc).__name__
        time.sleep(0.25)
    raise StackError(f"service {service} was not ready within {READY_TIMEOUT:.0f}s ({last}){tail(log)}")


def down(data_dir: Path) -> list[str]:
    """Stop services, sinks, broker and PostgreSQL; safe to run twice. Returns what was stopped."""
    data_dir = data_dir.absolute()
    state = read_state(data_dir)
    stopped = []
    workers = [(f"{name} worker", entry) for name, entry in state.get("workers", {}).items()]
    for name, entry in [*state.get("services", {}).items(), *workers, *((n, state.get(n)) for n in reversed(SINKS))]:
        if _running(entry):
            terminate(entry["pid"], started=entry.get("started"))
            stopped.append(name)
    if stop_postgres(_cluster(data_dir, state)):
        stopped.append("postgres")
    if state:
        write_state(data_dir, _forget_pids(state))
    return stopped


def _forget_pids(state: dict[str, Any]) -> dict[str, Any]:
    """Keep only what the next `up` reuses: the cluster and the ports (so URLs stay the same)."""
    kept: dict[str, Any] = {"postgres": state.get("postgres", {})}
    kept.update({n: {"port": state[n]["port"]} for n in SINKS if state.get(n, {}).get("port")})
    kept["services"] = {s: {"port": e.get("port")} for s, e in state.get("services", {}).items()}
    kept["workers"] = {s: {"port": e.get("port")} for s, e in state.get("workers", {}).items()}
    return kept


def status(data_dir: Path) -> list[dict[str, Any]]:
    """One row per component: name, pid, whether it runs, where, and (services) whether it is ready."""
    data_dir = data_dir.absolute()
    state, env = read_state(data_dir), read_env(data_dir)
    pg = state.get("postgres", {})
    cluster = _cluster(data_dir, state)
    running = pg_running(cluster)
    admin_url = env.get("CERTWATCH_ADMIN_DATABASE_URL", f"127.0.0.1:{pg.get('port', '-')}")
    rows = [
        {
            "name": "postgres",
            "pid": postmaster_pid(cluster) if running else None,
            "running": running,
            "where": mask_password(admin_url),
        }
    ]
    for name in SINKS:
        entry = state.get(name) or {}
        rows.append(_row(name, entry, f"127.0.0.1:{entry.get('port', '-')}"))
    workers = state.get("workers", {})
    for service, entry in state.get("services", {}).items():
        for name, each in ((service, entry), (f"{service} worker", workers.get(service))):
            if each is not None:
                row = _row(name, each, each.get("url") or f"http://127.0.0.1:{each.get('port', '-')}")
                row["ready"] = row["running"] and _ready(each.get("port"))
                rows.append(row)
    return rows


def _row(name: str, entry: dict[str, Any], where: str) -> dict[str, Any]:
    running = _running(entry)
    return {"name": name, "pid": entry.get("pid") if running else None, "running": running, "where": where}


def _ready(port: int | None) -> bool:
    if not port:
        return False
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False
