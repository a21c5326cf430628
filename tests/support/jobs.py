"""Following a long job (shared/jobs.py) to its end over HTTP."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx


async def follow(
    client: httpx.AsyncClient, job: dict[str, Any], headers: dict[str, str] | None = None, timeout: float = 120
) -> dict[str, Any]:
    """The job (as POST answered it, 202) once it has ended; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"job still {job['status']} after {timeout}s: {job}"
        await asyncio.sleep(0.1)
        response = await client.get(f"/jobs/{job['id']}", headers=headers)
        assert response.status_code == 200, response.text
        job = response.json()
    return job
