"""The stored signals a sweep screens, read from ingest's API (`GET /signals?since=&after=`).

ingest keeps the signals; rules reads them through ingest's API, as `certwatch rules replay` does, never
through its tables. A sweep reads millions, so it pages by key (the last id of each page), in id order,
and fetches the next pages while the current one is screened.

ingest serves every stored signal as v3 (`SignalV3`): the v2 kinds, and the signals that correct an earlier
one (`spot_check_overturned`, issue 15 §3), which a v2 model cannot read. The sweep screens failures and lists,
so it skips the corrections (counted in `corrections_skipped`): rules links a correction to the events it
corrects when the correction arrives (`rules.consumers.on_signal_received_v3`); a sweep raises none for it.

Signal ids are uuid5 (or uuid4) values, uniformly spread: how far the last id read is through the id space
is how far the sweep is through the signals, which gives a progress fraction without counting them first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as midnight
from typing import Any, Protocol

import httpx
from pydantic import TypeAdapter, ValidationError

from shared.contracts.ingest import V3_ONLY_KINDS, SignalReceivedV2
from shared.errors import CertwatchError

_PAGE = TypeAdapter(list[SignalReceivedV2])
_SPACE = float(1 << 48)
_USABLE_RUNS = ("succeeded", "partial", "not_modified")


class IngestUnavailable(CertwatchError):
    status_code = 502
    code = "ingest_unavailable"


class SignalSource(Protocol):
    def pages(self, since: date) -> AsyncIterator[list[SignalReceivedV2]]: ...

    async def snapshots(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class Page:
    signals: list[SignalReceivedV2]  # the signals a sweep screens
    read: int  # every signal of ingest's page, corrections included
    last: uuid.UUID | None  # the last id of ingest's page (where the next page starts)
    corrections: int  # v3 signals that correct an earlier one: skipped


def parse_page(content: bytes) -> Page:
    """A page of ingest's `GET /signals` as v2 signals, without the corrections (v3 only), which are skipped.
    Pages without a correction (nearly all) are read in one pass; a page with one is read again signal by signal."""
    try:
        signals = _PAGE.validate_json(content)
        return Page(signals, len(signals), signals[-1].signal_id if signals else None, 0)
    except ValidationError:
        raw: list[dict[str, Any]] = json.loads(content)
        if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
            raise
    kept = [s for s in raw if s.get("kind") not in V3_ONLY_KINDS]
    signals = _PAGE.validate_python(kept)  # anything else that fails still fails the sweep, saying what
    last = uuid.UUID(str(raw[-1]["signal_id"])) if raw else None
    return Page(signals, len(raw), last, len(raw) - len(kept))


def fraction_through(signal_id: uuid.UUID) -> float:
    """How far through the id space this id lies (its first 48 bits: uuid5's version bits come later)."""
    return (signal_id.int >> 80) / _SPACE


class IngestSignals:
    """Pages of stored signals from ingest, `page` at a time (ingest's limit), `ahead` pages fetched ahead."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str], page: int = 500, ahead: int = 4) -> None:
        self.client, self.headers, self.page, self.ahead = client, headers, page, ahead
        self.spent: defaultdict[str, float] = defaultdict(float)  # seconds per part, for the log
        self.corrections_skipped = 0  # v3 corrections among the stored signals: not screened

    async def pages(self, since: date) -> AsyncIterator[list[SignalReceivedV2]]:
        queue: asyncio.Queue[list[SignalReceivedV2] | BaseException | None] = asyncio.Queue(self.ahead)
        reader = asyncio.create_task(self._read(datetime.combine(since, midnight.min).isoformat() + "Z", queue))
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def snapshots(self) -> dict[str, str]:
        """Each feed's last successful run (its snapshot's date), from ingest's feed runs; {} if unreadable."""
        try:
            response = await self.client.get("/feed-runs", params={"limit": 500}, headers=self.headers)
        except httpx.HTTPError:
            return {}
        if response.status_code != 200:
            return {}
        last: dict[str, str] = {}
        for run in response.json():  # newest first
            if run.get("status") in _USABLE_RUNS and run.get("finished_at") and run["feed"] not in last:
                last[run["feed"]] = run["finished_at"]
        return last

    async def _read(self, since: str, queue: asyncio.Queue[list[SignalReceivedV2] | BaseException | None]) -> None:
        after = uuid.UUID(int=0)
        try:
            while True:
                params: dict[str, str | int] = {"since": since, "after": str(after), "limit": self.page}
                started = time.monotonic()
                response = await self.client.get("/signals", params=params, headers=self.headers)
                if response.status_code != 200:
                    raise IngestUnavailable(f"ingest answered {response.status_code}: {response.text[:300]}")
                parsing = time.monotonic()
                page = parse_page(response.content)
                self.spent["ingest's answers"] += parsing - started
                self.spent["parsing"] += time.monotonic() - parsing
                self.corrections_skipped += page.corrections
                if page.last is None:
                    break
                if page.signals:
                    await queue.put(page.signals)
                after = page.last
                if page.read < self.page:
                    break
        except httpx.HTTPError as exc:
            await queue.put(IngestUnavailable(f"ingest is not reachable at {self.client.base_url}: {exc}"))
            return
        except Exception as exc:  # handed to the sweep, which fails with it
            await queue.put(exc)
            return
        await queue.put(None)
