"""Running ingest's feed runner in this process (the CLI): the service's relay publishes afterwards."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from services.ingest.feeds import parse_file
from services.ingest.models import messaging
from services.ingest.runs.config import FeedConfig, load_feeds
from services.ingest.runs.service import FeedRunner, Sink
from services.ingest.settings import IngestSettings
from shared.db.session import Database
from shared.kafka.outbox import Outbox


class _NoDatabase:
    """A dry run touches no database: parsing and validation only."""


class Preview:
    """A dry run's sink: every signal it would publish to a JSON Lines file (the payload exactly as the
    relay publishes it), and a line per row for people to read."""

    def __init__(self, signals: Path | None, echo: Callable[[str], object] | None) -> None:
        self.path, self.echo = signals, echo
        self.handle: IO[str] | None = None

    def __enter__(self) -> Preview:
        if self.path is not None:
            self.handle = self.path.open("w", encoding="utf-8")
        return self

    def __exit__(self, *_: object) -> None:
        if self.handle is not None:
            self.handle.close()

    def __call__(self, item: Any, outcome: str) -> None:
        if outcome == "signal" and self.handle is not None:
            self.handle.write(json.dumps(item.signal.model_dump(mode="json"), ensure_ascii=False) + "\n")
        if self.echo is not None:
            self.echo(preview_line(item, outcome))


def preview_line(item: Any, outcome: str) -> str:
    """`row 12  signal     委托方 X | 受委托方 Y · 产品 · 项目 结果 (标准) · 生产 2024-03-05 · 2022年第8期 national`."""
    head = f"row {item.row if item.row is not None else '-':>5}  {outcome:<9}"
    if outcome == "rejected":
        return f"{head}  {item.reason}"
    if outcome == "passing":
        return f"{head}  合格 (no signal)"
    signal = item.signal
    parties = " | ".join(f"{p.role_label} {p.name}" if p.role_label else p.name for p in signal.all_parties())
    parts = [parties]
    if signal.subject.credit_code:
        parts.append(f"{signal.subject.credit_code} ({signal.subject.credit_code_status.value})")
    product = signal.product
    if product is not None:
        parts.append(" ".join(filter(None, [product.name, product.model, product.batch and f"批号 {product.batch}"])))
        parts += [f"生产 {product.production_date}"] if product.production_date else []
        parts += [f"购进 {product.purchase_date}"] if product.purchase_date else []
    for failed in signal.detail.failed_items:
        parts.append(" ".join(filter(None, [failed.item, failed.result, failed.standard and f"({failed.standard})"])))
    detail = signal.detail
    bulletin = " ".join(filter(None, [detail.bulletin_no, detail.level and detail.level.value]))
    parts += [bulletin] if bulletin else []
    parts += [f"公告 {signal.published_on}"] if signal.published_on else []
    return f"{head}  " + " · ".join(p for p in parts if p)


async def ingest_file(
    path: Path, kind: str, feed: str | None, dry_run: bool, sink: Sink | None = None, publisher: str | None = None
) -> dict[str, Any]:
    config = FeedConfig.model_validate(
        {"name": feed or f"file.{kind}", "kind": kind, "url": f"file:{path.name}", "publisher": publisher}
    )
    return await _run(config, path, dry_run, sink)


async def run_feed(name: str, dry_run: bool) -> dict[str, Any]:
    settings = IngestSettings()
    feed = next((f for f in load_feeds(settings.feeds_file) if f.name == name), None)
    if feed is None:
        raise SystemExit(f"no feed named {name!r} in {settings.feeds_file}")
    return await _run(feed, None, dry_run)


async def _run(config: FeedConfig, path: Path | None, dry_run: bool, sink: Sink | None = None) -> dict[str, Any]:
    if dry_run:
        runner = FeedRunner(_NoDatabase(), Outbox(messaging.outbox, "ingest"), parse_file)  # type: ignore[arg-type]
        summary = await runner.run(config, source=path, dry_run=True, sink=sink)
        return summary.model_dump(mode="json")
    db = Database(IngestSettings())
    try:
        runner = FeedRunner(db, Outbox(messaging.outbox, "ingest"), parse_file)
        summary = await runner.run(config, source=path)
    finally:
        await db.dispose()
    return summary.model_dump(mode="json")
