"""Quiet hours for SMS, on real PostgreSQL, a real SMTP server and the SMS gateway sink: both messages are
queued, the email goes at once, the text waits in the delivery outbox for the end of the quiet hours, then
goes once."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from certwatch.mailsink import read_mail
from certwatch.smssink import read_sms
from services.notify.channels import Channel, EmailChannel, SmsChannel
from services.notify.models import Delivery, messaging
from services.notify.sender import Sender
from services.notify.service import Notifier
from shared.contracts.rules import (
    Contact,
    OrganisationUpdated,
)
from shared.db.session import Database
from shared.kafka.outbox import Outbox
from tests.support.events import risk_event_raised

pytestmark = pytest.mark.integration

MOBILE = "13800138000"
METRIC, LABELS = "certwatch_background_total", {"service": "notify", "job": "deferred_text", "outcome": "delivered"}


def around(now: datetime) -> str:
    """Quiet hours from an hour ago to an hour from now (UTC)."""
    return f"{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=1)):%H:%M}"


async def count(db: Database, *where: object) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Delivery).where(*where)) or 0)


async def statuses(db: Database) -> dict[str, str]:
    async with db.sessions() as session:
        return {d.channel: d.status for d in (await session.scalars(select(Delivery))).all()}


async def test_a_text_in_quiet_hours_waits_for_their_end_and_goes_once(
    service_settings, mail_sink, sms_sink, caplog
) -> None:
    now = datetime.now(UTC)
    settings = service_settings(
        "notify", smtp_port=mail_sink.port, sms_gateway_url=f"http://127.0.0.1:{sms_sink.port}/sms",
        sms_quiet_hours=around(now), timezone="UTC",
    )  # fmt: skip
    db = Database(settings)
    notifier = Notifier(settings)
    channels: dict[str, Channel] = {"email": EmailChannel(settings), "sms": SmsChannel(settings)}
    sender = Sender(settings, Outbox(messaging.outbox, "notify"), channels)
    email = f"quality+{uuid.uuid4().hex[:8]}@hongyuan.example"
    org = OrganisationUpdated(
        organisation_id=uuid.uuid4(), name="浙江宏远电器有限公司", revision=1, updated_at=now,
        contacts=[Contact(name="王经理", email=email, mobile=MOBILE)],
    )  # fmt: skip
    raised = risk_event_raised(
        "产品监督抽查不合格", organisation_id=org.organisation_id, organisation_name=org.name, summary="输出电压",
        decision_due=date.today() + timedelta(days=30), raised_at=now,
    )  # fmt: skip
    caplog.set_level(logging.INFO)
    try:
        async with db.transaction() as session:
            await notifier.organisations_updated(session, [(org, uuid.uuid4(), None)])
            assert await notifier.risk_events_raised(session, [(raised, uuid.uuid4(), None)]) == 2  # email and text
        async with db.transaction() as session:  # the same event again: nothing twice, nothing lost
            assert await notifier.risk_events_raised(session, [(raised, uuid.uuid4(), None)]) == 0

        assert await sender.send_due() == 1  # the email goes at once; the text is not due
        assert [m["To"] for m in read_mail(mail_sink.maildir)].count(email) == 1
        assert [m for m in read_sms(sms_sink.maildir) if m["to"] == MOBILE] == []
        assert await statuses(db) == {"email": "delivered", "sms": "queued"}

        assert await sender.send_due(now + timedelta(minutes=30)) == 0  # still quiet: it keeps waiting
        sent_before = REGISTRY.get_sample_value(METRIC, LABELS) or 0.0
        assert await sender.send_due(now + timedelta(hours=1, minutes=1)) == 1  # the quiet hours are over
        assert REGISTRY.get_sample_value(METRIC, LABELS) == sent_before + 1  # on /metrics
        assert await sender.send_due(now + timedelta(hours=2)) == 0  # sent once

        [text] = [m for m in read_sms(sms_sink.maildir) if m["to"] == MOBILE]
        assert "产品监督抽查不合格" in text["text"]
        assert await statuses(db) == {"email": "delivered", "sms": "delivered"}
        assert await count(db, Delivery.status == "queued") == 0
        assert await count(db, Delivery.recipient.is_not(None)) == 0  # sent: the full addresses are forgotten
        assert "waits until" in caplog.text and MOBILE not in caplog.text and email not in caplog.text
    finally:
        await sender.close()
        await db.dispose()
