"""Running ingest's feed runner in this process (the CLI): the service's relay publishes afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.ingest.feeds import parse_file
from services.ingest.models import messaging
from services.ingest.runs.config import FeedConfig, load_feeds
from services.ingest.runs.service import FeedRunner
from services.ingest.settings import IngestSettings
from shared.db.session import Database
from shared.kafka.outbox import Outbox


class _NoDatabase:
    """A dry run touches no database: parsing and validation only."""


async def ingest_file(path: Path, kind: str, feed: str | None, dry_run: bool) -> dict[str, Any]:
    config = FeedConfig.model_validate({"name": feed or f"file.{kind}", "kind": kind, "url": f"file:{path.name}"})
    return await _run(config, path, dry_run)


async def run_feed(name: str, dry_run: bool) -> dict[str, Any]:
    settings = IngestSettings()
    feed = next((f for f in load_feeds(settings.feeds_file) if f.name == name), None)
    if feed is None:
        raise SystemExit(f"no feed named {name!r} in {settings.feeds_file}")
    return await _run(feed, None, dry_run)


async def _run(config: FeedConfig, path: Path | None, dry_run: bool) -> dict[str, Any]:
    if dry_run:
        runner = FeedRunner(_NoDatabase(), Outbox(messaging.outbox, "ingest"), parse_file)  # type: ignore[arg-type]
        summary = await runner.run(config, source=path, dry_run=True)
        return {**summary.as_dict(), "rejections": summary.rejections}
    db = Database(IngestSettings())
    try:
        runner = FeedRunner(db, Outbox(messaging.outbox, "ingest"), parse_file)
        summary = await runner.run(config, source=path)
    finally:
        await db.dispose()
    return {**summary.as_dict(), "rejections": summary.rejections}
