"""Delivery channels: email over pooled SMTP connections (aiosmtplib) and SMS over one reused HTTP session
(aiohttp) to a generic gateway; retries by tenacity."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from typing import Protocol

import aiohttp
import aiosmtplib
from aiosmtplib.email import extract_sender, flatten_message
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
FLATTENED_KEPT = 256  # rendered messages whose MIME bytes are kept for the next contact (an alert goes to several)
# The per-message headers are put into kept bytes only when both paths give the same bytes: plain ASCII,
# no folding (a header line within 78 characters); anything else is composed in full.
ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
PLAIN_ADDRESS = re.compile(rf"{ATOM}(\.{ATOM})*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")
PLAIN_KEY = re.compile(r"[A-Za-z0-9-]+")
TO, KEY = "recipient@certwatch-placeholder.invalid", "certwatch-placeholder-idempotency-key"


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
    """Send, retrying transient failures with capped, jittered exponential backoff (the wait after try n:
    `send_backoff_seconds` × 2ⁿ⁻¹, at most 30 s, plus up to half the first), for at most `deadline` seconds
    in all; returns (provider id, attempts). Raises DeliveryError, whose text has the recipient masked (it is
    logged and published). The first try goes without tenacity: its machinery cost a tenth of a text's CPU,
    and nearly every message goes at the first try; tenacity makes the others, waits as it did."""
    first = settings.send_backoff_seconds
    attempts, limit = 0, asyncio.timeout(deadline)
    try:
        async with limit:
            attempts = 1
            try:
                return await channel.send(recipient, message, key), 1
            except Exception as exc:
                if not transient(exc) or settings.send_attempts < 2:
                    raise
                _log_retry(exc, 1, channel.name, masked, recipient)
            await asyncio.sleep(first + random.uniform(0, first / 2))  # the wait after the first try
            retrying = AsyncRetrying(  # tries 2..n: its attempt k is try k + 1, so its waits are doubled
                stop=stop_after_attempt(settings.send_attempts - 1),
                wait=wait_exponential(multiplier=first * 2, max=max(first, 30.0)) + wait_random(0, first / 2),
                retry=retry_if_exception(transient),
                before_sleep=lambda state: _log_retry(
                    _error(state), state.attempt_number + 1, channel.name, masked, recipient
                ),
                reraise=True,
            )
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number + 1
                    return await channel.send(recipient, message, key), attempts
    except Exception as exc:
        text = f"gave up after {deadline:g} s" if limit.expired() else f"{type(exc).__name__}: {exc}"
        raise DeliveryError(text.replace(recipient, masked), attempts) from exc
    raise AssertionError("tenacity ended with neither a result nor an error")  # pragma: no cover


def transient(error: BaseException) -> bool:
    """Worth another try: an error, but not a refusal for good, and never a cancellation (tenacity would
    otherwise swallow the CancelledError of a timeout or a shutdown and try again)."""
    return isinstance(error, Exception) and not isinstance(error, PermanentError)


def _error(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome else None


def _log_retry(error: BaseException | None, attempt: int, channel: str, masked: str, recipient: str) -> None:
    text = f"{type(error).__name__}: {error}".replace(recipient, masked)
    log.warning("%s to %s failed (attempt %d), trying again: %s", channel, masked, attempt, text)


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
        self._flattened: OrderedDict[tuple[Rendered, str], tuple[str, bytes, bytes] | None] = OrderedDict()

    async def send(self, recipient: str, message: Rendered, idempotency_key: str) -> str:
        try:
            async with self.pool.connection() as smtp:
                message_id = await self._send(smtp, recipient, message, idempotency_key)
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException) as exc:
            if _permanent(exc):
                raise PermanentError(str(exc)) from exc
            raise
        return message_id

    async def _send(self, smtp: aiosmtplib.SMTP, recipient: str, message: Rendered, key: str) -> str:
        """What `smtp.send_message(self.compose(...))` does, byte for byte, without composing and flattening
        the same MIME body again for each contact: the bytes of a rendered message are kept, and only its
        To, Message-ID and X-Certwatch-Idempotency-Key differ from one copy to the next."""
        message_id = self.message_id(key)
        if not self._plain(recipient, key):
            mail = self.compose(recipient, message, key)
            await smtp.send_message(mail)
            return message_id
        if smtp.is_ehlo_or_helo_needed:
            await smtp.ehlo()
        options, cte = (["BODY=8BITMIME"], "8bit") if smtp.supports_extension("8BITMIME") else ([], "7bit")
        kept = self.flattened(message, cte)
        if kept is None:  # the placeholders did not land once each in the headers: compose in full
            await smtp.send_message(self.compose(recipient, message, key))
            return message_id
        sender, head, rest = kept
        head = head.replace(TO.encode(), recipient.encode()).replace(KEY.encode(), key.encode())
        await smtp.sendmail(sender, [recipient], head + rest, mail_options=options)
        return message_id

    def flattened(self, message: Rendered, cte: str) -> tuple[str, bytes, bytes] | None:
        """(envelope sender, headers, the rest) of the message composed for the placeholder contact and key,
        flattened as aiosmtplib flattens it; kept for the next contacts of the same message."""
        if (message, cte) in self._flattened:
            self._flattened.move_to_end((message, cte))
            return self._flattened[(message, cte)]
        mail = self.compose(TO, message, KEY)
        head, blank, body = flatten_message(mail, cte_type=cte).partition(b"\r\n\r\n")
        kept: tuple[str, bytes, bytes] | None = (extract_sender(mail) or self.settings.mail_from, head, blank + body)
        if head.count(TO.encode()) != 1 or head.count(KEY.encode()) != 2:
            kept = None
        self._flattened[(message, cte)] = kept
        if len(self._flattened) > FLATTENED_KEPT:
            self._flattened.popitem(last=False)
        return kept

    def _plain(self, recipient: str, key: str) -> bool:
        return (
            PLAIN_ADDRESS.fullmatch(recipient) is not None
            and PLAIN_KEY.fullmatch(key) is not None
            and len(recipient) <= len(TO) + 32
            and len(self.message_id(key)) + len("Message-ID: ") <= 78
            and len(key) + len("X-Certwatch-Idempotency-Key: ") <= 78
        )

    def message_id(self, idempotency_key: str) -> str:
        domain = self.settings.mail_from.rpartition("@")[2] or "certwatch"
        return f"<{idempotency_key}@{domain}>"

    def compose(self, recipient: str, message: Rendered, idempotency_key: str) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.settings.mail_from
        mail["To"] = recipient
        mail["Subject"] = message.subject
        # The same key gives the same Message-ID on every try, so a receiver can drop a resent copy.
        mail["Message-ID"] = self.message_id(idempotency_key)
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
    {message_id}, over one aiohttp session whose connections are reused (one kept alive per text in flight).
    aiohttp, not httpx: to the local sink it took ~0.25 ms of CPU a text where httpx took 1.5-2.3 ms
    (bench/bench_notify.py), which made the client, not the gateway, the limit."""

    name = "sms"

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The one session, made on first use: aiohttp binds it to the running event loop."""
        if self._session is None or self._session.closed:
            key = self.settings.sms_api_key
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=10.0),
                headers={"Authorization": f"Bearer {key.get_secret_value()}"} if key else {},
                connector=aiohttp.TCPConnector(limit=self.settings.sms_concurrency, keepalive_timeout=IDLE_SECONDS),
                raise_for_status=False,
            )
        return self._session

    async def send(self, recipient: str, message: Rendered, idempotency_key: str) -> str:
        if not self.settings.sms_gateway_url:
            raise PermanentError("no SMS gateway configured (CERTWATCH_NOTIFY_SMS_GATEWAY_URL)")
        async with self.session().post(
            self.settings.sms_gateway_url,
            json={"to": recipient, "text": message.subject, "idempotency_key": idempotency_key},
            headers={"Idempotency-Key": idempotency_key},
        ) as response:
            if 400 <= response.status < 500 and response.status not in (408, 425, 429):
                text = (await response.text(errors="replace"))[:200]
                raise PermanentError(f"the SMS gateway refused the message: {response.status} {text}")
            response.raise_for_status()
            body = await response.json(content_type=None)
        return str(body.get("message_id", "")) if isinstance(body, dict) else ""

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
