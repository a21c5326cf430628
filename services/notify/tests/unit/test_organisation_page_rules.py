"""The organisation page's rules that need no database: the rate limit, the file check by content, the evidence
key, the form's key, the uploads read with their limits, and the page's words in both languages."""

from __future__ import annotations

import io
import re
import string
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import UploadFile
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import Headers

from services.notify.models import OrganisationLink
from services.notify.organisations.endpoints import _read
from services.notify.organisations.files import LocalFileStore, _checked_key, evidence_key, sniff
from services.notify.organisations.links import SALT, LinkRefused, Links
from services.notify.organisations.service import MAX_FILES, RateLimit, Refused, response_id
from services.notify.organisations.words import RESPONSE_WORDS, WORDS, language
from services.notify.settings import NotifySettings
from shared.contracts.notify import ResponseKind, SelfReportProblem

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 "


def _link(event: uuid.UUID | None = None) -> OrganisationLink:
    return OrganisationLink(
        id=uuid.uuid4(),
        organisation_id=uuid.uuid4(),
        risk_event_id=event,
        code="abc",
        token="t",
        expires_at=datetime.now(UTC) + timedelta(days=90),
    )


# --- the rate limit ---------------------------------------------------------------------------------------------


def test_the_rate_limit_counts_per_link_and_refuses_with_a_429(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    limit, first, second = RateLimit(3), uuid.uuid4(), uuid.uuid4()
    for _ in range(3):
        limit.check(first)
    with pytest.raises(Refused) as refused:
        limit.check(first)
    assert (refused.value.status, refused.value.why) == (429, "rate_limited")
    limit.check(second)  # another link has its own minute
    clock[0] += 60.0
    limit.check(first)  # a minute later the window has moved on


def test_a_refused_request_does_not_count(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    limit, link = RateLimit(2), uuid.uuid4()
    limit.check(link)
    clock[0] = 30.0
    limit.check(link)
    for _ in range(5):
        with pytest.raises(Refused):
            limit.check(link)
    clock[0] = 60.5  # the first request left the window; the refused ones were never in it
    limit.check(link)


def test_the_rate_limit_forgets_idle_links(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    limit = RateLimit(5)
    for _ in range(10_001):
        limit.check(uuid.uuid4())
    clock[0] = 120.0
    limit.check(uuid.uuid4())
    assert len(limit._seen) == 1


# --- what a file is, by its bytes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "found"),
    [
        (PDF, ("application/pdf", ".pdf")),
        (PNG, ("image/png", ".png")),
        (JPEG, ("image/jpeg", ".jpg")),
        (b"GIF87a\x01\x00", ("image/gif", ".gif")),
        (b"GIF89a\x01\x00", ("image/gif", ".gif")),
        (WEBP, ("image/webp", ".webp")),
    ],
)
def test_each_accepted_type_is_known_by_its_first_bytes(head: bytes, found: tuple[str, str]) -> None:
    assert sniff(head[:16]) == found


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"PK\x03\x04 a docx or a zip",
        b"MZ\x90\x00 an exe",
        b"<html><body>",
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
        b"%PD",
        b" %PDF-1.4 leading space",
        "整改报告.pdf".encode(),
    ],
)
def test_anything_else_is_refused_whatever_its_name(head: bytes) -> None:
    assert sniff(head[:16]) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=16))
def test_sniff_accepts_only_what_starts_with_a_known_signature(head: bytes) -> None:
    found = sniff(head)
    known = (b"%PDF-", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")
    webp = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    assert (found is not None) is (head.startswith(known) or webp)


def test_the_evidence_key_is_by_content_under_its_organisation_and_event() -> None:
    organisation, event = uuid.uuid4(), uuid.uuid4()
    key = evidence_key(organisation, event, PDF, ".pdf")
    assert re.fullmatch(rf"{organisation}/{event}/[0-9a-f]{{64}}\.pdf", key)
    assert key == evidence_key(organisation, event, PDF, ".pdf")
    assert key != evidence_key(organisation, event, PDF + b"x", ".pdf")
    assert key != evidence_key(uuid.uuid4(), event, PDF, ".pdf")
    assert "@" not in key


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs/path", "a/../../b", "a\\b", ""])
def test_an_object_key_that_leaves_the_bucket_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="leaves the store"):
        _checked_key(key)


@pytest.mark.parametrize("key", ["../etc/passwd", "a/../../b", "/etc/passwd"])
def test_a_file_key_that_leaves_the_folder_is_refused(key: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="leaves the store"):
        LocalFileStore(tmp_path)._path(key)
    assert LocalFileStore(tmp_path)._path("org/event/f.pdf") == (tmp_path / "org/event/f.pdf").resolve()


# --- the form's key ---------------------------------------------------------------------------------------------


def test_the_same_form_on_the_same_link_is_the_same_act() -> None:
    link = _link(uuid.uuid4())
    assert response_id(link, "k-1") == response_id(link, "k-1")
    assert response_id(link, "k-1") != response_id(link, "k-2")
    assert response_id(link, "k-1") != response_id(_link(link.risk_event_id), "k-1")


@pytest.mark.parametrize("key", [None, "", "k" * 101])
def test_a_form_without_a_usable_key_is_refused(key: str | None) -> None:
    with pytest.raises(Refused) as refused:
        response_id(_link(), key)
    assert (refused.value.status, refused.value.why) == (422, "no_key")


# --- the uploads as the route reads them ------------------------------------------------------------------------


def _upload(name: str, data: bytes) -> UploadFile:
    return UploadFile(
        io.BytesIO(data), size=len(data), filename=name, headers=Headers({"content-type": "application/pdf"})
    )


async def test_uploads_are_read_up_to_the_limit_and_one_over_it_is_a_413() -> None:
    kept = await _read([_upload("a.pdf", PDF), _upload("b.png", PNG)], limit=1024)
    assert [(u.filename, u.data) for u in kept] == [("a.pdf", PDF), ("b.png", PNG)]
    exactly = PDF + b"0" * (1024 - len(PDF))
    assert (await _read([_upload("c.pdf", exactly)], limit=1024))[0].data == exactly
    with pytest.raises(Refused) as refused:
        await _read([_upload("ok.pdf", PDF), _upload("big.pdf", exactly + b"0")], limit=1024)
    assert (refused.value.status, refused.value.why) == (413, "too_large")
    assert WORDS["zh-CN"]["too_large"].format(**refused.value.values) == "文件过大：每个文件不超过 1 MB。"


async def test_the_limit_is_named_in_megabytes() -> None:
    with pytest.raises(Refused) as refused:
        await _read([_upload("big.pdf", PDF + b"0" * (10 * 1024 * 1024))], limit=10 * 1024 * 1024)
    assert refused.value.values == {"limit": 10}
    assert "10 MB" in WORDS["en"]["too_large"].format(**refused.value.values)


async def test_more_files_than_allowed_are_refused_and_empty_parts_are_not_files() -> None:
    with pytest.raises(Refused) as refused:
        await _read([_upload(f"{n}.pdf", PDF) for n in range(MAX_FILES + 1)], limit=1024)
    assert (refused.value.status, refused.value.why, refused.value.values) == (422, "too_many", {"limit": MAX_FILES})
    empty = UploadFile(io.BytesIO(b""), size=0, filename="")
    assert await _read([empty, *(_upload(f"{n}.pdf", PDF) for n in range(MAX_FILES))], limit=1024) != []


# --- the links, signed --------------------------------------------------------------------------------------------


def _settings(secret: str = "s3cret-key-for-tests", days: int = 90) -> NotifySettings:
    return NotifySettings(link_secret=secret, link_lifetime_days=days, page_url="https://cb.example/")


def test_the_links_urls_are_under_the_page_url() -> None:
    links = Links(_settings())
    assert links.url("TOKEN") == "https://cb.example/o/TOKEN"
    assert links.short_url("abc") == "https://cb.example/o/s/abc"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-token",
        "eyJhbGciOi.forged.signature",
        URLSafeTimedSerializer("another-deployments-key", salt=SALT).dumps(str(uuid.uuid4())),
        URLSafeTimedSerializer("s3cret-key-for-tests", salt="another-purpose").dumps(str(uuid.uuid4())),
        URLSafeTimedSerializer("s3cret-key-for-tests", salt=SALT).dumps("not a uuid"),
    ],
)
async def test_a_forged_or_altered_token_is_refused_before_any_lookup(token: str) -> None:
    with pytest.raises(LinkRefused) as refused:
        await Links(_settings()).open(None, token)  # type: ignore[arg-type]  # never reaches the database
    assert refused.value.why == "tampered"


async def test_a_token_older_than_the_lifetime_is_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    from itsdangerous.timed import TimestampSigner

    signed_at = int(time.time()) - 2 * 86400  # signed two days ago
    with monkeypatch.context() as m:
        m.setattr(TimestampSigner, "get_timestamp", lambda self: signed_at)
        old = URLSafeTimedSerializer("s3cret-key-for-tests", salt=SALT).dumps(str(uuid.uuid4()))
    with pytest.raises(LinkRefused) as refused:
        await Links(_settings(days=1)).open(None, old)  # type: ignore[arg-type]
    assert refused.value.why == "expired"


@settings(max_examples=100, deadline=None)
@given(st.text(string.ascii_letters + string.digits + "-_.", max_size=120))
def test_no_made_up_token_opens_a_page(token: str) -> None:
    serializer = URLSafeTimedSerializer("s3cret-key-for-tests", salt=SALT)  # what Links.open checks first
    with pytest.raises(BadSignature):
        serializer.loads(token, max_age=90 * 86400)


# --- the page's words ---------------------------------------------------------------------------------------------


def test_both_languages_have_every_word_with_the_same_placeholders() -> None:
    assert set(WORDS["zh-CN"]) == set(WORDS["en"])
    for key, zh in WORDS["zh-CN"].items():
        assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", WORDS["en"][key])), key
        assert zh.strip() and WORDS["en"][key].strip(), key


def test_every_refusal_and_problem_has_words() -> None:
    refusals = {
        "tampered",
        "expired",
        "unknown",
        "rate_limited",
        "too_large",
        "bad_type",
        "too_many",
        "file_required",
        "text_required",
        "text_too_long",
        "no_key",
        "problem_required",
        "description_required",
        "bad_date",
        "no_event",
    }
    for lang in ("zh-CN", "en"):
        assert refusals <= set(WORDS[lang])
        assert {p.value for p in SelfReportProblem} <= set(WORDS[lang])
        assert {k.value for k in ResponseKind} | {"self_report"} == set(RESPONSE_WORDS[lang])


@pytest.mark.parametrize(
    ("asked", "chosen"),
    [(None, "zh-CN"), ("", "zh-CN"), ("en", "en"), ("EN", "en"), ("en-GB", "en"), ("zh-CN", "zh-CN"), ("fr", "zh-CN")],
)
def test_the_page_language(asked: str | None, chosen: str) -> None:
    assert language(asked) == chosen
