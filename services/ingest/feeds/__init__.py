"""Feed adapters: each file kind parsed into canonical signals, bad rows rejected with a reason."""

from __future__ import annotations

from pathlib import Path

from services.ingest.feeds import accident, credit_list, spot_check, status
from services.ingest.feeds.base import FileRejected, ParsedRecord, ParseResult, RowRejected
from services.ingest.feeds.tables import Limits, preflight

KINDS = (
    "spot_check",
    "food_spot_check",
    "serious_illegal",
    "abnormal_operation",
    "licence_status",
    "accident",
)

__all__ = ["KINDS", "FileRejected", "Limits", "ParseResult", "ParsedRecord", "RowRejected", "parse_file", "preflight"]


def parse_file(
    kind: str,
    path: Path,
    *,
    feed: str,
    previous_snapshot: bytes | None = None,
    snapshot: bool = False,
    publisher: str | None = None,
    limits: Limits | None = None,
) -> ParseResult:
    """Parse one file of `kind`; raises FileRejected for a file-level problem.

    `publisher` is the authority that publishes the feed, when its configuration names it: a bulletin's
    authority, and the level of its checks when the file itself does not say. `limits`: how much a file
    may hold (an XLSX inflated, a cell, a run of empty rows); the defaults unless the settings say."""
    if kind in ("spot_check", "food_spot_check"):
        return spot_check.parse(path, feed=feed, food=kind == "food_spot_check", publisher=publisher, limits=limits)
    if kind in ("serious_illegal", "abnormal_operation"):
        return credit_list.parse(
            path,
            feed=feed,
            list_kind=kind,
            previous_snapshot=previous_snapshot,
            snapshot=snapshot or previous_snapshot is not None,
            limits=limits,
        )
    if kind == "licence_status":
        return status.parse(path, feed=feed, limits=limits)
    if kind == "accident":
        return accident.parse(path, feed=feed, limits=limits)
    raise FileRejected(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
