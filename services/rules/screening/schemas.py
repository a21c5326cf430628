"""Screening and replay request models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.ingest import SignalReceivedV2


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signals: list[SignalReceivedV2] = Field(
        min_length=1, max_length=2000, description="stored signals, as ingest keeps them"
    )


class ScreenQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    credit_code: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=500)
    province: str | None = Field(default=None, max_length=50)
