"""The sweep reads ingest's stored signals as v3 pages: a correction (v3 only) is skipped, never a failed sweep."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import httpx

from services.rules.sweep.signals import IngestSignals, parse_page


def _signal(n: int, kind: str = "spot_check_failure", **extra: Any) -> dict[str, Any]:
    return {"signal_id": str(uuid.UUID(int=n)), "feed": "samr", "kind": kind,
            "subject": {"name": f"企业{n}有限公司"}, "published_on": "2026-11-02", **extra}  # fmt: skip


CORRECTION = {"how": "recheck_passed", "corrects_bulletin_no": "2026年第8期", "evidence": "复检结论 合格"}


def test_a_page_without_corrections_reads_in_one_pass() -> None:
    page = parse_page(json.dumps([_signal(1), _signal(2, correction=None)]).encode())
    assert [s.signal_id.int for s in page.signals] == [1, 2] and page.read == 2 and page.corrections == 0


def test_a_correction_is_skipped_and_the_page_still_ends_at_its_last_id() -> None:
    body = [_signal(1), _signal(2, "spot_check_overturned", correction=CORRECTION), _signal(3), _signal(4, "spot_check_overturned", correction=CORRECTION)]  # fmt: skip
    page = parse_page(json.dumps(body).encode())
    assert [s.signal_id.int for s in page.signals] == [1, 3]
    assert (page.read, page.corrections, page.last) == (4, 2, uuid.UUID(int=4))


async def test_the_sweep_reads_past_a_page_of_corrections_only() -> None:
    stored = [_signal(1), _signal(2), _signal(3, "spot_check_overturned", correction=CORRECTION),
              _signal(4, "spot_check_overturned", correction=CORRECTION), _signal(5)]  # fmt: skip

    def ingest(request: httpx.Request) -> httpx.Response:
        after, limit = uuid.UUID(request.url.params["after"]).int, int(request.url.params["limit"])
        return httpx.Response(200, json=[s for s in stored if uuid.UUID(s["signal_id"]).int > after][:limit])

    async with httpx.AsyncClient(transport=httpx.MockTransport(ingest), base_url="http://ingest") as client:
        source = IngestSignals(client, {}, page=2)
        pages = [[s.signal_id.int for s in page] async for page in source.pages(date(2026, 1, 1))]
    assert pages == [[1, 2], [5]]  # ingest's second page (3 and 4) held corrections only
    assert source.corrections_skipped == 2
