"""The notify service: wiring only."""

from __future__ import annotations

from fastapi import FastAPI

from services.notify import consumers, digest, endpoints
from services.notify.channels import Channel, EmailChannel, SmsChannel
from services.notify.models import messaging, tokens
from services.notify.organisations import endpoints as page
from services.notify.organisations.files import S3FileStore, evidence_store
from services.notify.organisations.links import Links
from services.notify.organisations.service import RateLimit
from services.notify.sender import Sender
from services.notify.service import Notifier
from services.notify.settings import NotifySettings
from shared.auth import replicate_tokens
from shared.runtime import ServiceRuntime, build_app
from shared.settings import PlatformSettings


def create_app(settings: NotifySettings | None = None, platform: PlatformSettings | None = None) -> FastAPI:
    settings = settings or NotifySettings()
    runtime = ServiceRuntime("notify", settings, platform or PlatformSettings(), messaging)
    consumers.register(runtime, Notifier(settings))
    channels: dict[str, Channel] = {"email": EmailChannel(settings), "sms": SmsChannel(settings)}
    sender = Sender(settings, runtime.outbox, channels, published=runtime.publish_soon)
    runtime.background.append(sender.run)  # sends what the consumers committed; closes the channels on stop
    publish_after_commit = runtime.consumer.after_commit

    def committed() -> None:  # a consumer's commit may have queued messages: the sender looks at once
        publish_after_commit()
        sender.wakeup.set()

    runtime.consumer.after_commit = committed
    # The digest keeps SMTP connections of its own (it runs once a day), closed when it stops.
    runtime.background.append(lambda stop: digest.run(settings, runtime.db, EmailChannel(settings), stop))
    replicate_tokens(runtime, tokens)  # tokens made or revoked in rules work or stop here too
    app = build_app(runtime, [endpoints.router, page.router], title="certwatch notify")
    store = evidence_store(settings)
    if isinstance(store, S3FileStore):  # a wrong bucket or credential stops the start, naming the setting
        runtime.on_start.append(lambda _: store.check())
    app.state.organisation_page = page.OrganisationPage(
        settings, Links(settings), store, RateLimit(settings.page_requests_per_minute)
    )  # the organisation's page: its signed links are its only credential (services/notify/organisations)
    return app
