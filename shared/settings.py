"""Typed settings. Platform-wide values use the prefix CERTWATCH_; each service adds its own prefix.

Values come from the environment, then `.env`, then the local stack's `.data/stack.env` (written by
`certwatch up`). Production sets environment variables and never has either file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def repo_root() -> Path:
    """The project folder (where pyproject.toml is), or the working directory when installed elsewhere."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def data_dir() -> Path:
    return Path(os.environ.get("CERTWATCH_DATA_DIR", repo_root() / ".data"))


def env_files() -> tuple[Path, ...]:
    return (repo_root() / ".env", data_dir() / "stack.env")


class PlatformSettings(BaseSettings):
    """What every service shares: the broker and the environment."""

    model_config = SettingsConfigDict(env_prefix="CERTWATCH_", env_file=env_files(), extra="ignore")

    environment: str = Field(default="development", description="development | test | production")
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_enable_idempotence: bool = Field(
        default=True, description="on for Apache Kafka; off for Tansu, whose idempotent producer fails"
    )
    kafka_topic_prefix: str = Field(default="", description="prepended to every topic name (tests, tenants)")
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    log_level: str = "INFO"
    log_json: bool = True

    def topic(self, name: str) -> str:
        return f"{self.kafka_topic_prefix}{name}"


class ServiceSettings(BaseSettings):
    """Base of each service's settings; subclasses set `service` and the env prefix."""

    service: ClassVar[str] = ""

    database_url: SecretStr = Field(
        default=SecretStr(""), description="the service's own role, e.g. postgresql+asyncpg://rules:…@host/db"
    )
    database_schema: str = ""
    database_pool_size: int = 5
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str | None = Field(default=None, description="where clients reach the service; default http://host:port")
    consumer_group: str = ""
    consumer_batch_size: int = Field(
        default=500,
        description="records of one partition handled in one transaction, with one inbox insert, one commit "
        "and one offset commit (1: one at a time)",
    )
    consumer_concurrency: int = Field(
        default=3,
        description="partitions whose batches are handled side by side, each in its own transaction and "
        "database connection (1: one partition after the other)",
    )
    consumer_max_attempts: int = Field(
        default=4, description="tries per message before an error that is not an outage sends it to the DLQ"
    )
    consumer_backoff_seconds: float = Field(default=0.2, description="the first wait between tries; it doubles")
    consumer_backoff_max_seconds: float = Field(
        default=5.0,
        description="the longest wait between tries during an outage (tried without limit)",
    )
    outbox_poll_seconds: float = Field(default=0.5, description="commits in this process wake the relay at once")
    run_consumers: bool = True
    role: Literal["all", "api", "worker"] = Field(
        default="all",
        description="all: one process does everything; api: HTTP and the relay of what requests write; worker: "
        "consumers, relay and background loops, serving only /healthz, /readyz and /metrics",
    )

    @model_validator(mode="after")
    def _defaults_from_service(self) -> ServiceSettings:
        if not self.database_schema:
            self.database_schema = self.service
        if not self.consumer_group:
            self.consumer_group = f"certwatch-{self.service}"
        return self

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> ServiceSettings:
        platform_env = os.environ.get("CERTWATCH_ENVIRONMENT", "development")
        url = self.database_url.get_secret_value()
        if platform_env == "production" and (not url or "changeme" in url):
            raise ValueError(f"{self.service}: set a real database_url in production")
        return self

    @property
    def url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url.get_secret_value()


def service_config(service: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=f"CERTWATCH_{service.upper()}_", env_file=env_files(), extra="ignore")
