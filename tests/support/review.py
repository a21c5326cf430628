"""Reading risk events as a test checks them: the list gives summaries, so each is read in full by its id."""

from __future__ import annotations

from typing import Any

import httpx


async def risk_events(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Every risk event the list gives (newest first), each as GET /risk-events/{id} shows it."""
    listed = (await client.get("/risk-events", params=params)).json()
    return [(await client.get(f"/risk-events/{e['id']}")).json() for e in listed]
