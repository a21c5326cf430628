"""send_with_retries with channels that fail on purpose (no I/O): what is retried, what is not, what is kept."""

from __future__ import annotations

import asyncio
from typing import Any

import aiosmtplib
import pytest

from services.notify.channels import DeliveryError, PermanentError, _permanent, send_with_retries
from services.notify.settings import NotifySettings
from services.notify.templates import Rendered

TO, MASKED = "quality@hongyuan.example", "q***@hongyuan.example"
MESSAGE = Rendered("subject", "body\n")


class Flaky:
    """Fails with `errors` in turn, then answers `ok-N`."""

    name = "email"

    def __init__(self, *errors: BaseException, hang: bool = False) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.hang = hang

    async def send(self, recipient: str, message: Rendered, idempotency_key: str) -> str:
        self.calls += 1
        if self.hang:
            await asyncio.sleep(3600)
        if self.errors:
            raise self.errors.pop(0)
        return f"ok-{self.calls}"

    async def close(self) -> None:
        return None


def settings(**overrides: Any) -> NotifySettings:
    values: dict[str, Any] = {"send_backoff_seconds": 0.001, **overrides}
    return NotifySettings(database_url="postgresql+asyncpg://x@localhost/x", **values)


async def test_a_transient_failure_is_tried_again() -> None:
    channel = Flaky(aiosmtplib.SMTPServerDisconnected("gone"))
    assert await send_with_retries(channel, TO, MESSAGE, "k", settings(), MASKED) == ("ok-2", 2)


async def test_a_permanent_refusal_is_not_tried_again_and_its_text_is_masked() -> None:
    channel = Flaky(PermanentError(f"(550, 'mailbox unavailable: {TO}')"))
    with pytest.raises(DeliveryError) as failed:
        await send_with_retries(channel, TO, MESSAGE, "k", settings(), MASKED)
    assert channel.calls == 1 and failed.value.attempts == 1
    assert TO not in str(failed.value) and MASKED in str(failed.value)


async def test_tries_end_after_send_attempts() -> None:
    channel = Flaky(*(ConnectionRefusedError("refused") for _ in range(5)))
    with pytest.raises(DeliveryError) as failed:
        await send_with_retries(channel, TO, MESSAGE, "k", settings(send_attempts=3), MASKED)
    assert channel.calls == 3 and failed.value.attempts == 3
    assert str(failed.value) == "ConnectionRefusedError: refused"


async def test_the_waits_double_from_the_backoff_and_each_try_is_logged_masked(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", sleep)  # the first try's wait and tenacity's both go through it
    channel = Flaky(*(ConnectionResetError(f"reset by {TO}") for _ in range(3)))
    policy = settings(send_attempts=4, send_backoff_seconds=1.0)
    assert await send_with_retries(channel, TO, MESSAGE, "k", policy, MASKED) == ("ok-4", 4)
    assert len(slept) == 3
    for waited, base in zip(slept, (1.0, 2.0, 4.0), strict=True):  # backoff × 2ⁿ⁻¹, plus up to half the first
        assert base <= waited <= base + 0.5
    assert [r.getMessage().split(" failed ")[1][:11] for r in caplog.records] == ["(attempt 1)", "(attempt 2)",
                                                                                  "(attempt 3)"]  # fmt: skip
    assert TO not in caplog.text


async def test_a_send_that_hangs_gives_up_at_the_deadline() -> None:
    with pytest.raises(DeliveryError) as failed:
        await send_with_retries(Flaky(hang=True), TO, MESSAGE, "k", settings(), MASKED, deadline=0.05)
    assert str(failed.value) == "gave up after 0.05 s" and failed.value.attempts == 1


def test_smtp_5xx_is_permanent_and_4xx_is_not() -> None:
    assert _permanent(aiosmtplib.SMTPDataError(554, "rejected"))
    assert not _permanent(aiosmtplib.SMTPDataError(421, "try later"))
    refused = [aiosmtplib.SMTPRecipientRefused(550, "no", TO), aiosmtplib.SMTPRecipientRefused(450, "busy", TO)]
    assert not _permanent(aiosmtplib.SMTPRecipientsRefused(refused))  # one of them may yet go
    assert _permanent(aiosmtplib.SMTPRecipientsRefused(refused[:1]))
    assert not _permanent(aiosmtplib.SMTPServerDisconnected("gone"))
