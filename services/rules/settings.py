"""Settings of the rules service (prefix CERTWATCH_RULES_)."""

from typing import ClassVar

from pydantic import Field

from shared.auth import AuthSettings
from shared.settings import ServiceSettings, service_config


class RulesSettings(AuthSettings, ServiceSettings):
    """Tokens and roles: `AuthSettings` (CERTWATCH_AUTH_*, the same for every service)."""

    service: ClassVar[str] = "rules"
    model_config = service_config("rules")

    port: int = 8102
    match_threshold: float = Field(default=0.90, ge=0, le=1, description="at or above: an automatic match")
    review_threshold: float = Field(default=0.60, ge=0, le=1, description="at or above: a human review")
    suspension_check_seconds: float = Field(
        default=3600.0, gt=0, description="how often events whose suspension ended are looked for (and reopened)"
    )
