"""HTTP request and response models of ingest."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.ingest import Party, ProductV2, SignalDetail, SignalKind, Subject


class SignalIn(BaseModel):
    """A signal posted by hand or by another system; its id is derived from its content."""

    model_config = ConfigDict(extra="forbid")

    feed: str = Field(default="manual", min_length=1, max_length=100)
    kind: SignalKind
    subject: Subject
    product: ProductV2 | None = None
    parties: list[Party] = Field(
        default_factory=list, max_length=10, description="every party the source names, each with its role"
    )
    detail: SignalDetail = Field(default_factory=SignalDetail)
    published_on: date | None = None
    source_url: str | None = Field(default=None, max_length=2000)


class SignalAccepted(BaseModel):
    signal_id: uuid.UUID
    duplicate: bool
    credit_code_status: str
    subject_key: str
