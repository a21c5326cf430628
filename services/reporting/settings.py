"""Settings of the reporting service (prefix CERTWATCH_REPORTING_)."""

from typing import ClassVar

from shared.settings import ServiceSettings, service_config


class ReportingSettings(ServiceSettings):
    service: ClassVar[str] = "reporting"
    model_config = service_config("reporting")

    port: int = 8104
