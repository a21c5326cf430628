"""Settings of the reporting service (prefix CERTWATCH_REPORTING_)."""

from typing import ClassVar

from pydantic import Field, SecretStr

from shared.auth import AuthSettings
from shared.settings import ServiceSettings, service_config


class ReportingSettings(AuthSettings, ServiceSettings):
    """Tokens and roles: `AuthSettings` (CERTWATCH_AUTH_*, the same for every service)."""

    service: ClassVar[str] = "reporting"
    model_config = service_config("reporting")

    port: int = 8104
    session_key: SecretStr | None = Field(
        default=None,
        description="signs the dashboard's login cookies (a secret: never in the repo); without it, a random key "
        "per process, so a restart logs everyone out",
    )
