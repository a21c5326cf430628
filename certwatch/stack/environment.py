"""What the stack writes down: `stack.json` (pids, ports, no secrets), the secrets, and `stack.env`.

Secrets (role passwords, the administrator and feed tokens) are generated once per data folder and kept
in mode-600 files apart from `stack.json`, so status files can be shared.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from certwatch.services import SERVICES
from shared.auth import Role, hashed_entry

DATABASE = "certwatch"


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


def with_database(dsn: str, database: str) -> str:
    """The same server and credentials, another database."""
    return dsn.rsplit("/", 1)[0] + f"/{database}"


# ---------------------------------------------------------------- stack.json


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


# ---------------------------------------------------------------- secrets


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


# ---------------------------------------------------------------- stack.env


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
