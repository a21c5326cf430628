"""A thin producer over aiokafka, configured from the platform settings."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaProducer

from shared.settings import PlatformSettings


def client_options(platform: PlatformSettings) -> dict[str, Any]:
    """Connection options shared by producers, consumers and the admin client."""
    options: dict[str, Any] = {
        "bootstrap_servers": platform.kafka_bootstrap_servers,
        "security_protocol": platform.kafka_security_protocol,
    }
    if platform.kafka_sasl_mechanism:
        options["sasl_mechanism"] = platform.kafka_sasl_mechanism
        options["sasl_plain_username"] = platform.kafka_sasl_username
        password = platform.kafka_sasl_password
        options["sasl_plain_password"] = password.get_secret_value() if password else None
    return options


class Producer:
    """Sends bytes to prefixed topics; idempotence is a setting (Tansu's idempotent producer fails)."""

    def __init__(self, platform: PlatformSettings, client_id: str, request_timeout_ms: int = 40_000) -> None:
        self.platform = platform
        self._producer = AIOKafkaProducer(
            client_id=client_id,
            enable_idempotence=platform.kafka_enable_idempotence,
            acks="all",
            linger_ms=5,
            request_timeout_ms=request_timeout_ms,  # how long a send waits for an unreachable broker
            **client_options(platform),
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, topic: str, key: str, value: bytes, headers: list[tuple[str, bytes]] | None = None) -> None:
        """Send and wait for the broker's acknowledgement."""
        await self._producer.send_and_wait(
            self.platform.topic(topic), value=value, key=key.encode(), headers=headers or []
        )

    async def send_many(self, messages: list[tuple[str, str, bytes]]) -> None:
        """Send a batch and wait for every acknowledgement (the relay's fast path)."""
        futures = [
            await self._producer.send(self.platform.topic(topic), value=value, key=key.encode())
            for topic, key, value in messages
        ]
        for future in futures:
            await future

    async def ping(self, timeout: float = 3.0) -> None:
        """Readiness: the broker answers a metadata request in time (a paused broker never answers)."""
        await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout)
