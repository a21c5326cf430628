"""The sweep's settings: where ingest's API is (the stored signals), and how much it reads at a time."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings

from shared.settings import service_config


class SweepSettings(BaseSettings):
    model_config = service_config("rules")  # CERTWATCH_RULES_…

    ingest_url: str | None = Field(
        default=None, description="ingest's API, for the stored signals (default: ingest's port on this host)"
    )
    ingest_port: int = Field(
        default=8101, validation_alias=AliasChoices("certwatch_ingest_port"), description="the local stack's"
    )
    sweep_page: int = Field(default=500, ge=1, le=500, description="signals per request to ingest (its limit)")
    sweep_writers: int = Field(
        default=3, ge=1, le=8, description="pages whose hits are written at once, each in its own transaction"
    )

    def ingest(self) -> str:
        return (self.ingest_url or f"http://127.0.0.1:{self.ingest_port}").rstrip("/")
