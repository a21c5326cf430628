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
    # What one file may hold (issue 12 item 8): a bad file costs bounded time and memory, never the service.
    xlsx_inflated_bytes: int = Field(
        default=256 * 1024 * 1024, gt=0, description="an XLSX whose parts would inflate past this is a zip bomb"
    )
    xlsx_inflate_ratio: int = Field(default=200, gt=0, description="an XLSX inflating more than this many times over")
    cell_chars: int = Field(default=32_767, gt=0, description="a longer cell rejects its row (Excel's own limit)")
    blank_rows: int = Field(default=1_000, gt=0, description="empty rows in a row after which a sheet is not read on")
    upload_wait_bytes: int = Field(
        default=1024 * 1024,
        ge=0,
        description="POST /files answers an upload up to this size once ingested, a larger one at once with a job",
    )
    upload_jobs: int = Field(default=2, ge=1, description="uploads ingested at once; the others wait, queued")
