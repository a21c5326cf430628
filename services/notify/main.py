"""The notify service: wiring only."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI

from services.notify import consumers, digest, endpoints
from services.notify.channels import Channel, EmailChannel, SmsChannel
from services.notify.models import messaging
from services.notify.service import Notifier
from services.notify.settings import NotifySettings
from shared.runtime import ServiceRuntime, build_app
from shared.settings import PlatformSettings


def create_app(settings: NotifySettings | None = None, platform: PlatformSettings | None = None) -> FastAPI:
    settings = settings or NotifySettings()
    runtime = ServiceRuntime("notify", settings, platform or PlatformSettings(), messaging)
    channels: dict[str, Channel] = {"email": EmailChannel(settings), "sms": SmsChannel(settings)}
    notifier = Notifier(settings, runtime.outbox, channels)
    consumers.register(runtime, notifier)
    runtime.every(
        settings.deferred_poll_seconds,
        lambda session: notifier.send_due(session, datetime.now(UTC)),
        "sending deferred texts",
    )
    runtime.background.append(lambda stop: digest.run(settings, runtime.db, channels["email"], stop))
    return build_app(runtime, [endpoints.router], title="certwatch notify")
