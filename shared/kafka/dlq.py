"""Inspect and replay dead-lettered messages."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer

from shared.kafka.producer import Producer, client_options
from shared.settings import PlatformSettings


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: str
    headers: dict[str, str]
    value: bytes


async def read_dlq(platform: PlatformSettings, topic: str, *, timeout_ms: int = 2000) -> list[DeadLetter]:
    """Everything on `<topic>.dlq`, read without a consumer group (inspection changes nothing)."""
    consumer = AIOKafkaConsumer(
        platform.topic(f"{topic}.dlq"),
        group_id=None,
        auto_offset_reset="earliest",
        **client_options(platform),
    )
    await consumer.start()
    letters: list[DeadLetter] = []
    try:
        while batch := await consumer.getmany(timeout_ms=timeout_ms):
            for records in batch.values():
                letters.extend(
                    DeadLetter(
                        r.partition,
                        r.offset,
                        (r.key or b"").decode(errors="replace"),
                        {k: v.decode(errors="replace") for k, v in r.headers},
                        r.value or b"",
                    )
                    for r in records
                )
    finally:
        await consumer.stop()
    return letters


async def replay_dlq(platform: PlatformSettings, topic: str, *, timeout_ms: int = 2000) -> int:
    """Send dead letters back to their topic once; the replay group's offsets remember what was sent."""
    consumer = AIOKafkaConsumer(
        platform.topic(f"{topic}.dlq"),
        group_id=f"certwatch-dlq-replay.{topic}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **client_options(platform),
    )
    producer = Producer(platform, client_id="certwatch-dlq-replay")
    await consumer.start()
    await producer.start()
    replayed = 0
    try:
        while batch := await consumer.getmany(timeout_ms=timeout_ms):
            for records in batch.values():
                for r in records:
                    await producer.send(topic, (r.key or b"").decode(), r.value or b"")
                    replayed += 1
            await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
    return replayed
