"""Delivery channels: email over pooled SMTP connections (aiosmtplib) and SMS over one reused HTTP client
(httpx) to a generic gateway; retries by tenacity."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from services.notify.settings import NotifySettings
from services.notify.templates import Rendered

log = logging.getLogger(__name__)
IDLE_SECONDS = 30.0  # an idle SMTP connection older than this is closed rather than reused (servers drop them)
MESSAGES_PER_CONNECTION = 100  # then a fresh one: some servers cap a session's messages


class DeliveryError(Exception):
    """A channel could not deliver after its retries; `attempts` says how many were made."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


class PermanentError(Exception):
    """The server refused the message for good (SMTP 5xx, HTTP 4xx): trying again would not help."""


class Channel(Protocol):
    name: str

    async def send(self, recipient: str, message: Rendered, idempotency_key: str) -> str: ...

    async def close(self) -> None: ...


async def send_with_retries(
    channel: Channel,
    recipient: str,
    message: Rendered,
    key: str,
    settings: NotifySettings,
    masked: str,
    deadline: float | None = None,
) -> tuple[str, int]:
    """Send, retrying transient failures with capped, jittered exponential backoff, for at most `deadline`
    seconds in all; returns (provider id, attempts). Raises DeliveryError, whose text has the recipient
    masked (it is logged and published)."""
    first = settings.send_backoff_seconds
    retrying = AsyncRetrying(
        stop=stop_after_attempt(settings.send_attempts),
        wait=wait_exponential(multiplier=first, max=max(first, 30.0)) + wait_random(0, first / 2),
        retry=retry_if_exception(transient),
        before_sleep=lambda state: _log_retry(state, channel.name, masked, recipient),
        reraise=True,
    )
    attempts, limit = 0, asyncio.timeout(deadline)
    try:
        async with limit:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    return await channel.send(recipient, message, key), attempts
    except Exception as exc:
        text = f"gave up after {deadline:g} s" if limit.expired() else f"{type(exc).__name__}: {exc}"
        raise DeliveryError(text.replace(recipient, masked), attempts) from exc
    raise AssertionError("tenacity ended with neither a result nor an error")  # pragma: no cover


def transient(error: BaseException) -> bool:
    """Worth another try: an error, but not a refusal for good, and never a cancellation (tenacity would
    otherwise swallow the CancelledError of a timeout or a shutdown and try again)."""
    return isinstance(error, Exception) and not isinstance(error, PermanentError)


def _log_retry(state: RetryCallState, channel: str, masked: str, recipient: str) -> None:
    error = state.outcome.exception() if state.outcome else None
    text = f"{type(error).__name__}: {error}".replace(recipient, masked)
    log.warning("%s to %s failed (attempt %d), trying again: %s", channel, masked, state.attempt_number, text)


class SmtpPool:
    """At most `size` SMTP connections, kept open between messages; one that failed is closed, and the next
    message opens a new one."""

    def __init__(self, settings: NotifySettings, size: int) -> None:
        self.settings = settings
        self._slots = asyncio.Semaphore(size)
        self._idle: list[tuple[aiosmtplib.SMTP, float, int]] = []  # (connection, last used, messages sent)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[aiosmtplib.SMTP]:
        async with self._slots:
            smtp, used = await self._take()
            try:
                yield smtp
            except BaseException:
                await _close(smtp)  # a failed exchange leaves the session in an unknown state
                raise
            if used + 1 < MESSAGES_PER_CONNECTION:
                self._idle.append((smtp, time.monotonic(), used + 1))
            else:
                await _close(smtp)

    async def _take(self) -> tuple[aiosmtplib.SMTP, int]:
        while self._idle:
            smtp, since, used = self._idle.pop()
            if smtp.is_connected and time.monotonic() - since < IDLE_SECONDS:
                return smtp, used
            await _close(smtp)
        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_use_tls,
            start_tls=s.smtp_start_tls,
            timeout=s.smtp_timeout_seconds,
        )
        await smtp.connect()
        return smtp, 0

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for smtp, _, _ in idle:
            await _close(smtp, polite=True)


async def _close(smtp: aiosmtplib.SMTP, polite: bool = False) -> None:
    if polite and smtp.is_connected:
        try:
            await asyncio.wait_for(smtp.quit(), timeout=2.0)
            return
        except Exception:  # the server went away first: closing is all that is left
            pass
    smtp.close()


class EmailChannel:
    name = "email"

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        self.pool = SmtpPool(settings, settings.smtp_pool_size)

    async def send(self, recipient: str, message: Rendered, idempotency_key: str) -> str:
        mail = self.compose(recipient, message, idempotency_key)
        try:
            async with self.pool.connection() as smtp:
                await smtp.send_message(mail)
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException) as exc:
            if _permanent(exc):
                raise PermanentError(str(exc)) from exc
            raise
        return str(mail["Message-ID"])

    def compose(self, recipient: str, message: Rendered, idempotency_key: str) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.settings.mail_from
        mail["To"] = recipient
        mail["Subject"] = message.subject
        # The same key gives the same Message-ID on every try, so a receiver can drop a resent copy.
        domain = self.settings.mail_from.rpartition("@")[2] or "certwatch"
        mail["Message-ID"] = f"<{idempotency_key}@{domain}>"
        mail["X-Certwatch-Idempotency-Key"] = idempotency_key
        mail.set_content(message.body, charset="utf-8")
        return mail

    async def close(self) -> None:
        await self.pool.close()


def _permanent(exc: Exception) -> bool:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(refused.code >= 500 for refused in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 500


class SmsChannel:
    """A generic JSON gateway: POST {to, text, idempotency_key} (and an Idempotency-Key header) →
    {message_id}, over one client whose connections are reused."""

    name = "sms"

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        key = settings.sms_api_key
        self.client = httpx.AsyncClient(
            timeout=10.0,
            headers={"Authorization": f"Bearer {key.get_secret_value()}"} if key else {},
            limits=httpx.Limits(max_connections=settings.send_concurrency),
        )

    async def send(self, recipient: str, message: Rendered, idempotency_key: str) -> str:
        if not self.settings.sms_gateway_url:
            raise PermanentError("no SMS gateway configured (CERTWATCH_NOTIFY_SMS_GATEWAY_URL)")
        response = await self.client.post(
            self.settings.sms_gateway_url,
            json={"to": recipient, "text": message.subject, "idempotency_key": idempotency_key},
            headers={"Idempotency-Key": idempotency_key},
        )
        if 400 <= response.status_code < 500 and response.status_code not in (408, 425, 429):
            raise PermanentError(f"the SMS gateway refused the message: {response.status_code} {response.text[:200]}")
        response.raise_for_status()
        return str(response.json().get("message_id", ""))

    async def close(self) -> None:
        await self.client.aclose()
