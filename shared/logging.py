"""Structured JSON logs with a correlation id; personal data masked on the way out."""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_PHONE = re.compile(r"(?<!\d)(\+?86[- ]?)?(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_email(address: str) -> str:
    """a***@example.com: enough to tell recipients apart, not enough to harvest."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_phone(number: str) -> str:
    """138****5678."""
    digits = re.sub(r"\D", "", number)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]  # the country code says nothing about the person
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 7 else "****"


def mask_personal_data(text: str) -> str:
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return _PHONE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(4)}", text)


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.correlation_id = correlation_id.get()
        record.msg = mask_personal_data(record.getMessage())
        record.args = None
        return True


def configure_logging(service: str, level: str = "INFO", json: bool = True) -> None:
    """Route every log record (ours, uvicorn's, aiokafka's) through one masked JSON handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter(service))
    if json:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(correlation_id)s",
                rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(service)s] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    for noisy in ("aiokafka", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
