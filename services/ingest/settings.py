"""Settings of the ingest service (prefix CERTWATCH_INGEST_)."""

from typing import ClassVar

from shared.settings import ServiceSettings, service_config


class IngestSettings(ServiceSettings):
    service: ClassVar[str] = "ingest"
    model_config = service_config("ingest")

    port: int = 8101
    max_upload_bytes: int = 200 * 1024 * 1024
