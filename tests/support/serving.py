"""An app on a real port, lifespan and all: for a browser or a CLI that needs one (Playwright, schemathesis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from certwatch.stack.processes import free_port


@asynccontextmanager
async def served(app: FastAPI, port: int | None = None) -> AsyncIterator[str]:
    """Serve `app` on `port` (a free one by default) until the block ends; yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(600):
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started, "the service did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
