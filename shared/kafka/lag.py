"""Consumer lag: how far a consumer group is behind the end of its topics."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.kafka.producer import client_options
from shared.settings import PlatformSettings


async def group_lag(platform: PlatformSettings, group: str, topics: list[str]) -> int:
    """Messages on `topics` that `group` has not committed yet (0 when it has caught up)."""
    admin = AIOKafkaAdminClient(**client_options(platform))
    probe = AIOKafkaConsumer(group_id=None, **client_options(platform))
    await admin.start()
    await probe.start()
    try:
        partitions = [
            TopicPartition(platform.topic(t), p)
            for t in topics
            for p in sorted(
                probe.partitions_for_topic(platform.topic(t)) or await _partitions(probe, platform.topic(t))
            )
        ]
        ends = await probe.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        return sum(
            max(0, ends[tp] - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0))
            for tp in partitions
        )
    finally:
        await probe.stop()
        await admin.close()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()
