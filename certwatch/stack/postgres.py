"""The stack's private PostgreSQL cluster: initdb once, start and stop, and per-service roles and schemas.

PostgreSQL refuses to run as root, so when the caller is root the cluster runs as `nobody`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from certwatch.stack.environment import with_database, write_private
from certwatch.stack.processes import StackError, reusable_port, tail

ADMIN_ROLE = "certwatch_admin"
RUN_AS = "nobody"


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
    running_on = _pg_port(cluster) if pg_running(cluster) else None
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
        raise StackError(f"PostgreSQL did not start: {result.stderr.strip() or result.stdout.strip()}{tail(log)}")


def pg_running(cluster: Path) -> bool:
    """Whether the cluster in `cluster` runs."""
    data = cluster / "data"
    return (data / "postmaster.pid").exists() and _run_as_owner(["pg_ctl", "-D", str(data), "status"]).returncode == 0


def _postmaster(cluster: Path, line: int) -> int | None:
    with contextlib.suppress(OSError, IndexError, ValueError):
        return int((cluster / "data" / "postmaster.pid").read_text().splitlines()[line])
    return None


def postmaster_pid(cluster: Path) -> int | None:
    """The running cluster's postmaster pid, from its postmaster.pid file."""
    return _postmaster(cluster, 0)


def _pg_port(cluster: Path) -> int | None:
    return _postmaster(cluster, 3)


def stop_postgres(cluster: Path) -> bool:
    """Stop the cluster if it runs (fast, then immediate if that hangs); returns whether it ran."""
    if not pg_running(cluster):
        return False
    data = str(cluster / "data")
    if _run_as_owner(["pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "30", "stop"]).returncode != 0:
        _run_as_owner(["pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"])
    return True


# ---------------------------------------------------------------- provisioning


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def schema_of(role: str) -> str:
    """A service role's schema: `certwatch_rules` owns `rules`."""
    return role.removeprefix("certwatch_")


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
