"""What every feed adapter yields: parsed records with their signal, or rejected rows with a reason."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from shared.contracts import deterministic_id
from shared.contracts.ingest import CreditCodeStatus, SignalV2
from shared.identifiers import CodeCheck, CodeKind


class FileRejected(Exception):
    """A file-level problem: the whole file fails, nothing from it is published."""


@dataclass(slots=True)
class ParsedRecord:
    row: int
    raw: dict[str, Any]
    content_hash: str
    signal: SignalV2


@dataclass(slots=True)
class RowRejected:
    row: int | None
    reason: str
    raw: str


@dataclass(slots=True)
class PassingRow:
    """A row judged 合格 (符合, 通过): read, and no signal; counted as skipped_passing."""

    row: int
    skipped_passing: ClassVar[bool] = True


Item = ParsedRecord | RowRejected | PassingRow


@dataclass
class ParseResult:
    """Streams items once; counters that only the parser knows are filled in as it goes."""

    source: Callable[[ParseResult], Iterator[Item]]
    rows_read: int | None = None  # set by snapshot parsers, which yield only the differences
    unchanged: int = 0
    skipped: int = 0
    snapshot: bytes | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def items(self) -> Iterator[Item]:
        return self.source(self)


def code_status(check: CodeCheck | None) -> CreditCodeStatus:
    """How a signal carries a checked code: valid, valid legacy 注册号, invalid (evidence only), or absent."""
    if check is None:
        return CreditCodeStatus.ABSENT
    if not check.valid:
        return CreditCodeStatus.INVALID
    return CreditCodeStatus.VALID_LEGACY if check.kind is CodeKind.REGNO else CreditCodeStatus.VALID


def content_hash(raw: dict[str, Any]) -> str:
    """sha256 of the record's canonical JSON: the raw record's key, and the input to its signal id."""
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def signal_id(feed: str, kind: str, digest: str) -> uuid.UUID:
    """A signal's id: the same record of the same feed and kind is the same signal, however it arrives."""
    return deterministic_id("signal", feed, kind, digest)
