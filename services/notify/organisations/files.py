"""Where evidence files are kept: a `FileStore` (a local folder by default), each file checked by its content.

An S3-compatible store is a setting (`CERTWATCH_NOTIFY_EVIDENCE_STORE=s3`) that is not built yet: no S3
client is among the project's dependencies, and the settings refuse it at start. It would implement the same
two methods over a bucket."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

# The types an organisation may send, by their first bytes (never by the name or the declared type).
MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"GIF87a", "image/gif", ".gif"),
    (b"GIF89a", "image/gif", ".gif"),
)


def sniff(head: bytes) -> tuple[str, str] | None:
    """The content type and extension the bytes say, or None when they are not a PDF or an image."""
    for magic, content_type, extension in MAGIC:
        if head.startswith(magic):
            return content_type, extension
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return None


class FileStore(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes: ...


class LocalFileStore:
    """Files in a folder, one per key (`<organisation>/<file id><ext>`); writing the same key again is harmless."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        path = (self.folder / key).resolve()
        if self.folder.resolve() not in path.parents:
            raise ValueError(f"key {key!r} leaves the store")
        return path

    async def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        await asyncio.to_thread(_write, path, data)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_bytes(data)
    partial.replace(path)
