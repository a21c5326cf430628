"""Settings of the ingest service (prefix CERTWATCH_INGEST_)."""

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from shared.auth import AuthSettings
from shared.settings import ServiceSettings, data_dir, service_config


class IngestSettings(AuthSettings, ServiceSettings):
    """Tokens and roles: `AuthSettings` (CERTWATCH_AUTH_*, the same for every service)."""

    service: ClassVar[str] = "ingest"
    model_config = service_config("ingest")

    port: int = 8101
    max_upload_bytes: int = 200 * 1024 * 1024
    feeds_file: Path = Field(default_factory=lambda: data_dir() / "feeds.toml", description="the [[feed]] table")
    scheduler_enabled: bool = True
    work_dir: Path | None = Field(default=None, description="where downloads are kept during a run")
