"""The S3-compatible evidence store (issue 15 §1) against a real S3-protocol server: moto's, started in this process
on a free port, with authentication on (an IAM user and its key), so a wrong secret is refused as a real server
would. Write, read back, content type kept, the same bytes stored once, clear errors naming the setting; and the
organisation's page uploading evidence into the bucket end to end."""

from __future__ import annotations

import hashlib
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from services.notify.main import create_app as notify_app
from services.notify.organisations.files import S3FileStore, StoreError, evidence_key
from services.notify.settings import NotifySettings
from tests.support.infra import running

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
BUCKET = "certwatch-evidence"
POLICY = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    key_id: str
    secret: str

    def client(self) -> Any:
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
        )  # fmt: skip

    def store(self, **overrides: Any) -> S3FileStore:
        values: dict[str, Any] = {"endpoint_url": self.endpoint, "access_key_id": self.key_id,
                                  "secret_access_key": self.secret, "bucket": BUCKET, **overrides}  # fmt: skip
        return S3FileStore(**values)

    def settings(self) -> dict[str, Any]:
        return {"evidence_store": "s3", "evidence_s3_endpoint_url": self.endpoint, "evidence_s3_bucket": BUCKET,
                "evidence_s3_access_key_id": self.key_id, "evidence_s3_secret_access_key": self.secret,
                "evidence_s3_prefix": "evidence"}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    """moto's S3 server; an IAM user with a key made while it lets anyone in, then authentication on."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server._port}"
    try:
        anyone = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "setup",
                  "aws_secret_access_key": "setup"}  # fmt: skip
        iam = boto3.client("iam", **anyone)
        iam.create_user(UserName="certwatch-notify")
        iam.put_user_policy(UserName="certwatch-notify", PolicyName="evidence", PolicyDocument=POLICY)
        key = iam.create_access_key(UserName="certwatch-notify")["AccessKey"]
        boto3.client("s3", **anyone).create_bucket(Bucket=BUCKET)
        httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()  # authentication on
        yield S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"inf")  # moto's settings are this process's
        server.stop()


async def test_write_read_back_and_content_type_kept(s3: S3Server) -> None:
    store = s3.store(prefix="/evidence/")
    await store.check()
    key = evidence_key(uuid.uuid4(), uuid.uuid4(), PDF, ".pdf")
    await store.put(key, PDF)
    assert await store.get(key) == PDF
    head = s3.client().head_object(Bucket=BUCKET, Key=f"evidence/{key}")
    assert head["ContentType"] == "application/pdf"
    assert head["Metadata"]["sha256"] == hashlib.sha256(PDF).hexdigest()
    png = evidence_key(uuid.uuid4(), uuid.uuid4(), PNG, ".png")
    await store.put(png, PNG)
    assert s3.client().head_object(Bucket=BUCKET, Key=f"evidence/{png}")["ContentType"] == "image/png"
    with pytest.raises(FileNotFoundError):
        await store.get(f"{uuid.uuid4()}/nothing.pdf")
    with pytest.raises(ValueError, match="leaves the store"):
        await store.put("../elsewhere.pdf", PDF)


async def test_the_same_file_twice_is_stored_once(s3: S3Server) -> None:
    store = s3.store(prefix="dedup")
    organisation, event = uuid.uuid4(), uuid.uuid4()
    first, again = (evidence_key(organisation, event, PDF, ".pdf") for _ in range(2))
    assert first == again and first.endswith(hashlib.sha256(PDF).hexdigest() + ".pdf")
    await store.put(first, PDF)
    written = s3.client().head_object(Bucket=BUCKET, Key=f"dedup/{first}")
    puts = []
    store._client.meta.events.register("before-call.s3.PutObject", lambda **kw: puts.append(kw))
    await store.put(again, PDF)
    assert puts == []  # the bytes were there: nothing written
    listed = s3.client().list_objects_v2(Bucket=BUCKET, Prefix=f"dedup/{organisation}/")
    assert [o["Key"] for o in listed["Contents"]] == [f"dedup/{first}"]
    assert s3.client().head_object(Bucket=BUCKET, Key=f"dedup/{first}")["ETag"] == written["ETag"]
    # Other bytes under the same key (a caller's own key) are written.
    await store.put(first, PDF + b"%")
    assert len(puts) == 1 and await store.get(first) == PDF + b"%"


async def test_a_wrong_secret_or_bucket_or_endpoint_is_a_clear_error_naming_the_setting(s3: S3Server) -> None:
    with pytest.raises(StoreError, match="CERTWATCH_NOTIFY_EVIDENCE_S3_SECRET_ACCESS_KEY"):
        await s3.store(secret_access_key="wrong").check()
    with pytest.raises(StoreError, match="CERTWATCH_NOTIFY_EVIDENCE_S3_ACCESS_KEY_ID"):
        await s3.store(access_key_id="AKIANOSUCHKEY0000000").put("o/x.pdf", PDF)  # on first use too
    with pytest.raises(StoreError, match=r"'no-such-bucket'.*CERTWATCH_NOTIFY_EVIDENCE_S3_BUCKET"):
        await s3.store(bucket="no-such-bucket").check()
    closed = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(StoreError, match="CERTWATCH_NOTIFY_EVIDENCE_S3_ENDPOINT_URL"):
        await s3.store(endpoint_url=closed).check()


def test_settings_refuse_s3_without_a_bucket_or_with_half_a_key() -> None:
    with pytest.raises(ValueError, match="CERTWATCH_NOTIFY_EVIDENCE_S3_BUCKET"):
        NotifySettings(evidence_store="s3")
    with pytest.raises(ValueError, match="set both, or neither"):
        NotifySettings(evidence_store="s3", evidence_s3_bucket=BUCKET, evidence_s3_access_key_id="AKIA")
    settings = NotifySettings(evidence_store="s3", evidence_s3_bucket=BUCKET, evidence_s3_access_key_id="AKIA",
                              evidence_s3_secret_access_key="do-not-print-me")  # fmt: skip
    assert "do-not-print-me" not in repr(settings) and "do-not-print-me" not in str(settings)  # SecretStr


@pytest.mark.integration
async def test_notify_refuses_to_start_on_a_wrong_secret(s3: S3Server, platform, service_settings) -> None:
    settings = service_settings("notify", **{**s3.settings(), "evidence_s3_secret_access_key": "wrong"})
    with pytest.raises(StoreError, match="CERTWATCH_NOTIFY_EVIDENCE_S3_SECRET_ACCESS_KEY"):
        async with running(notify_app(settings, platform)):
            pass


@pytest.mark.integration
async def test_the_page_uploads_evidence_into_the_bucket(s3: S3Server, platform, service_settings) -> None:
    """The organisation's page with the S3 store selected: a signed link, a PDF uploaded through the evidence
    form, the object in the bucket with its type; the same form again writes nothing more."""
    settings = service_settings("notify", **s3.settings(), evidence_max_bytes=64 * 1024)
    app = notify_app(settings, platform)
    async with running(app) as page:
        organisation, event = uuid.uuid4(), uuid.uuid4()
        async with app.state.runtime.db.transaction() as session:
            issued = await app.state.organisation_page.links.issue(session, organisation, event)
        token = issued.url.rsplit("/", 1)[1]
        upload = {"files": ("整改报告.pdf", PDF, "application/pdf")}
        form = {"idempotency_key": str(uuid.uuid4()), "done": "true", "text": "已更换供应商"}
        for _ in range(2):
            sent = await page.post(f"/o/{token}/evidence", data=form, files=upload)
            assert sent.status_code == 303, sent.text
        fake = {"files": ("report.pdf", b"not a pdf at all", "application/pdf")}
        assert (await page.post(f"/o/{token}/evidence", data={"idempotency_key": "k1"}, files=fake)).status_code == 415
        listed = s3.client().list_objects_v2(Bucket=BUCKET, Prefix=f"evidence/{organisation}/")
        keys = [o["Key"] for o in listed.get("Contents", [])]
        assert len(keys) == 1, keys
        head = s3.client().head_object(Bucket=BUCKET, Key=keys[0])
        assert head["ContentType"] == "application/pdf"
        assert head["Metadata"]["sha256"] == hashlib.sha256(PDF).hexdigest()
        assert await app.state.organisation_page.store.get(keys[0].removeprefix("evidence/")) == PDF
        shown = await page.get(f"/o/{token}")
        assert shown.status_code == 200 and "整改报告.pdf" in shown.text
