"""The only definition of what crosses Kafka: the envelope, topic names and payload models."""

from shared.contracts.envelope import Envelope, RawEnvelope, deterministic_id
from shared.contracts.topics import PAYLOADS, Topic

__all__ = ["PAYLOADS", "Envelope", "RawEnvelope", "Topic", "deterministic_id"]
