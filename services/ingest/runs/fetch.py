"""Downloading a feed: streamed to disk with a size limit, timeouts, retries and conditional requests."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx

from shared.errors import InvalidInput

log = logging.getLogger(__name__)
RETRYABLE = {429, 500, 502, 503, 504}


class FetchError(Exception):
    """The feed could not be fetched; the message says why."""


@dataclass(frozen=True)
class Fetched:
    path: Path | None
    not_modified: bool
    etag: str | None = None
    last_modified: str | None = None
    size: int = 0
    sha256: str | None = None


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int
    timeout_seconds: float = 60.0
    attempts: int = 4
    backoff_seconds: float = 1.0


async def fetch(
    url: str, dest: Path, policy: FetchPolicy, etag: str | None = None, last_modified: str | None = None
) -> Fetched:
    """Fetch `url` into `dest`; a `file://` URL or plain path is copied (uploads, local runs)."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return await asyncio.to_thread(_copy_local, Path(parsed.path), dest, policy.max_bytes)
    if parsed.scheme not in ("http", "https"):
        raise InvalidInput(f"unsupported feed URL scheme {parsed.scheme!r}")
    error: Exception | None = None
    for attempt in range(1, policy.attempts + 1):
        try:
            return await _download(url, dest, policy, etag, last_modified)
        except (httpx.TransportError, _Retryable) as exc:
            error = exc
            log.warning("fetching %s failed (attempt %d/%d): %s", url, attempt, policy.attempts, exc)
            if attempt < policy.attempts:
                await asyncio.sleep(policy.backoff_seconds * 2 ** (attempt - 1))
    raise FetchError(f"{url}: gave up after {policy.attempts} attempts: {error}")


class _Retryable(Exception):
    pass


async def _download(url: str, dest: Path, policy: FetchPolicy, etag: str | None, modified: str | None) -> Fetched:
    headers = {k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", modified)) if v}
    timeout = httpx.Timeout(policy.timeout_seconds, connect=10.0)
    async with (
        httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        if response.status_code == 304:
            return Fetched(None, True, etag, modified)
        if response.status_code in RETRYABLE:
            raise _Retryable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise FetchError(f"{url}: HTTP {response.status_code}")
        declared = int(response.headers.get("content-length") or 0)
        if declared > policy.max_bytes:
            raise FetchError(f"{url}: {declared} bytes is over the limit of {policy.max_bytes}")
        size, digest = await _stream_to(response, dest, policy.max_bytes, url)
        got = response.headers
        return Fetched(dest, False, got.get("etag"), got.get("last-modified"), size, digest)


async def _stream_to(response: httpx.Response, dest: Path, limit: int, url: str) -> tuple[int, str]:
    """Write the body in chunks, never holding it whole; stop as soon as it passes the limit."""
    digest, size = hashlib.sha256(), 0
    with dest.open("wb") as out:
        async for chunk in response.aiter_bytes(1 << 16):
            size += len(chunk)
            if size > limit:
                raise FetchError(f"{url}: more than the limit of {limit} bytes; download stopped")
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def _copy_local(source: Path, dest: Path, limit: int) -> Fetched:
    if not source.is_file():
        raise FetchError(f"{source}: no such file")
    size = source.stat().st_size
    if size > limit:
        raise FetchError(f"{source}: {size} bytes is over the limit of {limit}")
    shutil.copyfile(source, dest)
    return Fetched(dest, False, size=size, sha256=file_sha256(dest))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
