"""Topic administration: every topic and its DLQ exist before services start."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.contracts import Topic
from shared.kafka.producer import client_options
from shared.settings import PlatformSettings

TOPIC_ALREADY_EXISTS = 36


async def ensure_topics(platform: PlatformSettings, partitions: int = 3, replication: int = 1) -> list[str]:
    """Create every contract topic and its `.dlq`; returns the names that were created."""
    names = [platform.topic(n) for t in Topic for n in (t.value, t.dlq)]
    admin = AIOKafkaAdminClient(**client_options(platform))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            await admin.create_topics([NewTopic(n, partitions, replication) for n in missing])
        return missing
    finally:
        await admin.close()
