"""Settings of the rules service (prefix CERTWATCH_RULES_)."""

from typing import ClassVar

from shared.settings import ServiceSettings, service_config


class RulesSettings(ServiceSettings):
    service: ClassVar[str] = "rules"
    model_config = service_config("rules")

    port: int = 8102
