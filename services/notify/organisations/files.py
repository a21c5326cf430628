"""Where evidence files are kept: a `FileStore` (a local folder by default, or an S3-compatible bucket), each file
checked by its content.

`CERTWATCH_NOTIFY_EVIDENCE_STORE` chooses: `local` (a folder, `CERTWATCH_NOTIFY_EVIDENCE_DIR`) or `s3` (a bucket
on any S3-compatible server: AWS, MinIO, Ceph…; `CERTWATCH_NOTIFY_EVIDENCE_S3_*`). The S3 store runs boto3's
blocking client in worker threads (`asyncio.to_thread`), so the event loop never waits on the bucket. Keys are the
caller's (`<organisation>/<file>`: ids, never a contact's address or number), under an optional prefix; each object
keeps its content type (sniffed from its bytes) and its SHA-256, and a put of the same bytes under a key already
holding them writes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from services.notify.settings import NotifySettings

log = logging.getLogger(__name__)

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


class StoreError(RuntimeError):
    """The store cannot be used as it is set: the message names the setting to look at."""


def evidence_key(organisation_id: object, risk_event_id: object, data: bytes, extension: str) -> str:
    """`<organisation>/<risk event>/<sha256><ext>`: a key by content, so the same file sent twice for one event
    is one object (ids only: never a contact's address or number)."""
    return f"{organisation_id}/{risk_event_id}/{hashlib.sha256(data).hexdigest()}{extension}"


def evidence_store(settings: NotifySettings) -> LocalFileStore | S3FileStore:
    """The store `CERTWATCH_NOTIFY_EVIDENCE_STORE` chooses."""
    if settings.evidence_store == "s3":
        return S3FileStore.from_settings(settings)
    return LocalFileStore(settings.evidence_dir)


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


def _checked_key(key: str) -> str:
    parts = PurePosixPath(key).parts
    if not parts or key.startswith("/") or any(part in ("..", ".") for part in parts) or "\\" in key:
        raise ValueError(f"key {key!r} leaves the store")
    return key


class S3FileStore:
    """Objects in a bucket of an S3-compatible server, one per key (under `prefix`), with their content type and
    SHA-256; boto3's client (thread-safe) is called in worker threads. `check()` at start, and any failure later,
    raise a `StoreError` that names the CERTWATCH_NOTIFY_EVIDENCE_S3_* setting to look at."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "",
    ) -> None:
        self.bucket, self.endpoint = bucket, endpoint_url or f"AWS S3 ({region})"
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        config = Config(
            region_name=region,
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            # Checksums only where the API requires them: not every S3-compatible server accepts the newer ones.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        session = boto3.session.Session(aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key)
        self._client: Any = session.client("s3", endpoint_url=endpoint_url, config=config)

    @classmethod
    def from_settings(cls, settings: NotifySettings) -> S3FileStore:
        key_id, secret = settings.evidence_s3_access_key_id, settings.evidence_s3_secret_access_key
        return cls(
            settings.evidence_s3_bucket or "",
            endpoint_url=settings.evidence_s3_endpoint_url,
            region=settings.evidence_s3_region,
            access_key_id=key_id.get_secret_value() if key_id else None,
            secret_access_key=secret.get_secret_value() if secret else None,
            prefix=settings.evidence_s3_prefix,
        )

    def object_key(self, key: str) -> str:
        return self.prefix + _checked_key(key)

    async def check(self) -> None:
        """The bucket is there and the credentials open it; else a `StoreError` naming the setting."""
        await self._call("check", None, self._client.head_bucket, Bucket=self.bucket)

    async def put(self, key: str, data: bytes) -> None:
        object_key = self.object_key(key)
        digest = hashlib.sha256(data).hexdigest()
        found = sniff(data[:16])
        content_type = found[0] if found else "application/octet-stream"
        held = await self._call("put", object_key, self._head, object_key)
        if held is not None and held.get("Metadata", {}).get("sha256") == digest:
            return  # these bytes are already there: nothing written
        await self._call(
            "put",
            object_key,
            self._client.put_object,
            Bucket=self.bucket,
            Key=object_key,
            Body=data,
            ContentType=content_type,
            Metadata={"sha256": digest},
        )

    async def get(self, key: str) -> bytes:
        object_key = self.object_key(key)
        return bytes(await self._call("get", object_key, self._read, object_key))

    def _head(self, object_key: str) -> dict[str, Any] | None:
        try:
            return dict(self._client.head_object(Bucket=self.bucket, Key=object_key))
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def _read(self, object_key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=object_key)
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(f"s3://{self.bucket}/{object_key}") from exc
            raise
        body = response["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()

    async def _call(self, what: str, object_key: str | None, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except ClientError as exc:
            error = StoreError(self._explain(_code(exc), str(exc)))
        except BotoCoreError as exc:
            error = StoreError(self._explain(type(exc).__name__, str(exc)))
        where = f"s3://{self.bucket}/{object_key}" if object_key else f"s3://{self.bucket}"
        log.error("evidence store: %s %s failed: %s", what, where, error)
        raise error

    def _explain(self, code: str, detail: str) -> str:
        where = f"bucket {self.bucket!r} at {self.endpoint}"
        if code in ("NoCredentialsError", "PartialCredentialsError"):
            return (
                f"no credentials for {where}: set CERTWATCH_NOTIFY_EVIDENCE_S3_ACCESS_KEY_ID and "
                f"CERTWATCH_NOTIFY_EVIDENCE_S3_SECRET_ACCESS_KEY ({code})"
            )
        if code in CREDENTIALS_REFUSED:
            return (
                f"the S3 server refused the credentials for {where}: check "
                f"CERTWATCH_NOTIFY_EVIDENCE_S3_ACCESS_KEY_ID and CERTWATCH_NOTIFY_EVIDENCE_S3_SECRET_ACCESS_KEY "
                f"(and that they may read and write the bucket) ({code})"
            )
        if code in ("404", "NoSuchBucket"):
            return (
                f"{where} does not exist: check CERTWATCH_NOTIFY_EVIDENCE_S3_BUCKET (and "
                f"CERTWATCH_NOTIFY_EVIDENCE_S3_ENDPOINT_URL); the store does not create it ({code})"
            )
        if code in (
            "EndpointConnectionError",
            "ConnectTimeoutError",
            "ConnectionClosedError",
            "InvalidEndpoint",
            "ReadTimeoutError",
            "SSLError",
            "ProxyConnectionError",
        ):
            return f"cannot reach {where}: check CERTWATCH_NOTIFY_EVIDENCE_S3_ENDPOINT_URL ({code}: {detail})"
        if code in ("301", "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"):
            return f"{where} is in another region: check CERTWATCH_NOTIFY_EVIDENCE_S3_REGION ({code})"
        return f"{where} failed: {code}: {detail} (CERTWATCH_NOTIFY_EVIDENCE_S3_*)"


CREDENTIALS_REFUSED = frozenset(
    {
        "403",
        "AccessDenied",
        "Forbidden",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "InvalidClientTokenId",
    }
)


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", "")) or str(
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    )
