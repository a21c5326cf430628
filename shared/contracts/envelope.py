"""The common envelope every event travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

P = TypeVar("P", bound=BaseModel)

#: Namespace for deterministic ids (uuid5): replays and re-runs produce the same ids.
CERTWATCH_NAMESPACE = uuid.UUID("6f6d3c1e-5a8e-4d55-9d0b-8c3f3f1e2a70")


def deterministic_id(*parts: object) -> uuid.UUID:
    """A uuid5 of the parts, so the same inputs always give the same id."""
    return uuid.uuid5(CERTWATCH_NAMESPACE, "\x1f".join(str(p) for p in parts))


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel, Generic[P]):
    """What crosses Kafka: metadata for tracing and deduplication around one payload."""

    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID
    event_type: str
    occurred_at: datetime = Field(default_factory=utcnow)
    producer: str
    correlation_id: str | None = None
    causation_id: uuid.UUID | None = Field(default=None, description="event_id of the event that caused this one")
    payload: P


class RawEnvelope(BaseModel):
    """The envelope with its payload not yet parsed: used to route and to dead-letter."""

    event_id: uuid.UUID
    event_type: str
    occurred_at: datetime
    producer: str
    correlation_id: str | None = None
    causation_id: uuid.UUID | None = None
    payload: dict[str, Any]
