"""`certwatch kafka republish`: send the outboxes' events again after the broker lost them.

The local broker (Tansu, in memory) keeps nothing across a restart: the topics, what they held and the
consumer groups' offsets are gone. Every service keeps what it published in its outbox (rows are marked
`published_at`, never deleted), so the events created since a time can be sent again, in each outbox's
order. Consumers record every event id they processed (the inbox) and event ids are deterministic, so
an event they had already handled is skipped: the republish has no effect twice.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import MetaData, Row, Text, cast, select

from certwatch.services import SERVICES, settings_of
from shared.db.base import messaging_tables
from shared.db.session import Database
from shared.kafka.admin import ensure_topics
from shared.kafka.producer import Producer
from shared.settings import PlatformSettings, ServiceSettings

# Every service's outbox has the same columns; its connection's search_path picks the schema.
OUTBOX = messaging_tables(MetaData()).outbox
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class Republished:
    service: str
    events: int
    topics: dict[str, int]


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 date or time (local time when it names no zone), or a duration back from now: 90s,
    30m, 2h, 1d."""
    now = now or datetime.now(UTC)
    if match := _DURATION.match(value.strip()):
        return now - timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"--since {value!r}: give an ISO 8601 time (2026-12-03T09:30) or a duration (2h)") from exc
    return moment if moment.tzinfo else moment.astimezone()


async def republish(
    platform: PlatformSettings,
    services: dict[str, ServiceSettings],
    since: datetime,
    *,
    partitions: int = 3,
    batch_size: int = 500,
) -> list[Republished]:
    """Create the topics if the broker lost them, then send every outbox event created since `since`,
    service by service in the order events flow (ingest, rules, notify, reporting)."""
    await ensure_topics(platform, partitions)
    producer = Producer(platform, client_id="certwatch-republish")
    await producer.start()
    try:
        return [await _one(name, settings, producer, since, batch_size) for name, settings in services.items()]
    finally:
        await producer.stop()


async def _one(service: str, settings: ServiceSettings, producer: Producer, since: datetime, batch: int) -> Republished:
    db = Database(settings)
    topics: dict[str, int] = {}
    after = 0
    try:
        while rows := await _page(db, since, after, batch):
            await producer.send_many([(r.topic, r.key, r.envelope.encode()) for r in rows])
            for row in rows:
                topics[row.topic] = topics.get(row.topic, 0) + 1
            after = rows[-1].id
    finally:
        await db.dispose()
    return Republished(service, sum(topics.values()), topics)


async def _page(db: Database, since: datetime, after: int, batch: int) -> list[Row[Any]]:
    """The next `batch` rows in outbox order, as stored (the envelope as PostgreSQL renders it, like the relay)."""
    query = (
        select(OUTBOX.c.id, OUTBOX.c.topic, OUTBOX.c.key, cast(OUTBOX.c.envelope, Text).label("envelope"))
        .where(OUTBOX.c.created_at >= since, OUTBOX.c.id > after)
        .order_by(OUTBOX.c.id)
        .limit(batch)
    )
    async with db.sessions() as session:
        return list((await session.execute(query)).all())


def run(since: str, services: list[str] | None, partitions: int) -> list[Republished]:
    """The command: the services' own settings (the local stack's stack.env, or the environment)."""
    unknown = sorted(set(services or []) - set(SERVICES))
    if unknown:
        raise ValueError(f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(SERVICES)}")
    chosen = {s: settings_of(s) for s in SERVICES if not services or s in services}
    return asyncio.run(republish(PlatformSettings(), chosen, parse_since(since), partitions=partitions))
