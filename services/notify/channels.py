"""Delivery channels: email over SMTP (aiosmtplib) and SMS over a generic HTTP gateway (httpx)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

import aiosmtplib
import httpx

from services.notify.settings import NotifySettings
from services.notify.templates import Rendered

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A channel could not deliver after its retries."""


class Channel(Protocol):
    name: str

    async def send(self, recipient: str, message: Rendered, idempotency_key: str) -> str: ...


async def with_retries(attempts: int, backoff: float, action: Callable[[], Awaitable[str]]) -> tuple[str, int]:
    """Run `action()` up to `attempts` times with exponential backoff; returns (result, attempts used)."""
    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            return await action(), attempt
        except Exception as exc:  # every transport error is retried the same way
            last = exc
            if attempt < attempts:
                await asyncio.sleep(backoff * 2 ** (attempt - 1))
    raise DeliveryError(f"{type(last).__name__}: {last}")


class EmailChannel:
    name = "email"

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    async def send(self, recipient: str, message: Rendered, idempotency_key: str) -> str:
        mail = EmailMessage()
        mail["From"] = self.settings.mail_from
        mail["To"] = recipient
        mail["Subject"] = message.subject
        mail["Message-ID"] = make_msgid(idstring=idempotency_key, domain="certwatch")
        mail["X-Certwatch-Idempotency-Key"] = idempotency_key
        mail.set_content(message.body, charset="utf-8")
        s = self.settings
        password = s.smtp_password.get_secret_value() if s.smtp_password else None
        await aiosmtplib.send(
            mail,
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=password,
            use_tls=s.smtp_use_tls,
            start_tls=s.smtp_start_tls,
            timeout=s.smtp_timeout_seconds,
        )
        return str(mail["Message-ID"])


class SmsChannel:
    """A generic JSON gateway: POST {to, text, idempotency_key} → {message_id}."""

    name = "sms"

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    async def send(self, recipient: str, message: Rendered, idempotency_key: str) -> str:
        if not self.settings.sms_gateway_url:
            raise DeliveryError("no SMS gateway configured (CERTWATCH_NOTIFY_SMS_GATEWAY_URL)")
        key = self.settings.sms_api_key
        headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.post(
                self.settings.sms_gateway_url,
                json={"to": recipient, "text": f"{message.subject}", "idempotency_key": idempotency_key},
                headers=headers,
            )
            response.raise_for_status()
            return str(response.json().get("message_id", ""))
