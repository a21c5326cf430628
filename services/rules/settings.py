"""Settings of the rules service (prefix CERTWATCH_RULES_)."""

from typing import ClassVar

from pydantic import Field, SecretStr

from shared.settings import ServiceSettings, service_config


class RulesSettings(ServiceSettings):
    service: ClassVar[str] = "rules"
    model_config = service_config("rules")

    port: int = 8102
    match_threshold: float = Field(default=0.90, ge=0, le=1, description="at or above: an automatic match")
    review_threshold: float = Field(default=0.60, ge=0, le=1, description="at or above: a human review")
    admin_token: SecretStr | None = Field(
        default=None,
        description="an administrator's bearer token, to make the other tokens (a secret: never in the repo)",
    )
    suspension_check_seconds: float = Field(
        default=3600.0, gt=0, description="how often events whose suspension ended are looked for (and reopened)"
    )
    reads_need_token: bool = Field(
        default=False,
        description="reads (GET, screening, replay dry runs) need a token of any role too: set it in production",
    )
