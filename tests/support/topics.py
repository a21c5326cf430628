"""Reading back what a test's services published on a topic."""

from __future__ import annotations

import json
from typing import Any

from aiokafka import AIOKafkaConsumer

from shared.contracts import Topic
from shared.kafka.producer import client_options
from shared.settings import PlatformSettings


async def published(platform: PlatformSettings, topic: Topic, quiet_ms: int = 2000) -> list[dict[str, Any]]:
    """Every envelope on the test's `topic`, oldest first (read until it stays quiet for `quiet_ms`)."""
    consumer = AIOKafkaConsumer(
        platform.topic(topic.value), group_id=None, auto_offset_reset="earliest", **client_options(platform)
    )
    await consumer.start()
    events: list[dict[str, Any]] = []
    try:
        while batch := await consumer.getmany(timeout_ms=quiet_ms):
            events.extend(json.loads(r.value) for records in batch.values() for r in records)
    finally:
        await consumer.stop()
    return events


async def payloads(platform: PlatformSettings, topic: Topic) -> list[dict[str, Any]]:
    """The payloads of what is on `topic`."""
    return [event["payload"] for event in await published(platform, topic, quiet_ms=1000)]
