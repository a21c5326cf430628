"""What the Notifier records for each contact, on real PostgreSQL: one message per contact and channel they accept,
in the contact's language, with the signed link (the short one on SMS); texts in the quiet hours wait for their
end and emails do not; decisions that ask nothing tell nothing; and no log line carries an address or a number."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from services.notify.models import Delivery
from services.notify.service import Notifier
from services.notify.settings import NotifySettings
from shared.contracts.rules import (
    CertificateStatus,
    CertificateStatusChanged,
    Contact,
    Measure,
    OrganisationUpdated,
    RiskEventStatus,
    RiskEventUpdated,
    Severity,
)
from shared.db.session import Database
from tests.support.events import risk_event_raised

pytestmark = pytest.mark.integration

EMAIL_ZH, EMAIL_EN, MOBILE = "zhang.quality@hongyuan.example", "export.desk@hongyuan.example", "13812345678"


@pytest.fixture
async def notify(service_settings: Any) -> AsyncIterator[tuple[Database, Any]]:
    def settings(**overrides: Any) -> NotifySettings:
        # explicit, whatever the environment file of a running stack says
        values = {
            "link_secret": "k",
            "page_url": "https://cb.example",
            "sms_gateway_url": None,
            "sms_quiet_hours": None,
        }
        return service_settings("notify", **(values | overrides))

    db = Database(settings())
    try:
        yield db, settings
    finally:
        await db.dispose()


def _organisation(contacts: list[Contact]) -> OrganisationUpdated:
    return OrganisationUpdated(
        organisation_id=uuid.uuid4(), name="浙江宏远电器有限公司", contacts=contacts, updated_at=datetime.now(UTC)
    )


CONTACTS = [
    Contact(name="张经理", email=EMAIL_ZH, mobile=MOBILE, language="zh-CN", channels=["email", "sms"]),
    Contact(name="Export desk", email=EMAIL_EN, mobile="13900001111", language="en", channels=["email"]),
]


async def _deliveries(db: Database) -> list[Delivery]:
    async with db.transaction() as session:
        return list((await session.scalars(select(Delivery).order_by(Delivery.channel, Delivery.recipient))).all())


async def _alert(db: Database, notifier: Notifier, organisation: OrganisationUpdated) -> int:
    event = risk_event_raised(
        "产品监督抽查不合格：电热水壶",
        organisation_id=organisation.organisation_id,
        organisation_name=organisation.name,
        decision_due=date(2026, 12, 18),
    )
    async with db.transaction() as session:
        await notifier.organisations_updated(session, [(organisation, uuid.uuid4(), "corr-1")])
        return await notifier.risk_events_raised(session, [(event, uuid.uuid4(), "corr-2")])


async def test_each_contact_gets_each_channel_it_accepts_in_its_language(notify) -> None:
    db, settings = notify
    organisation = _organisation(CONTACTS)
    assert await _alert(db, Notifier(settings(sms_gateway_url="http://sms.example/send")), organisation) == 3
    email_en, email_zh, sms = await _deliveries(db)
    assert (email_zh.channel, email_zh.recipient, email_zh.recipient_masked) == (
        "email",
        EMAIL_ZH,
        "z***@hongyuan.example",
    )
    assert (sms.channel, sms.recipient, sms.recipient_masked) == ("sms", MOBILE, "138****5678")
    assert email_zh.subject is not None and email_zh.subject.startswith("【认证风险提示】")
    assert email_en.subject is not None and email_en.subject.startswith("[Certification risk notice]")
    assert sms.subject is not None and "https://cb.example/o/s/" in sms.subject
    for delivery in (email_en, email_zh, sms):
        assert delivery.body is not None and "https://cb.example/o/" in delivery.body and "2026-12-18" in delivery.body
        assert delivery.status == "queued" and delivery.template == "risk_event_raised"
    assert {d.correlation_id for d in (email_en, email_zh, sms)} == {"corr-2"}


async def test_without_an_sms_gateway_only_email_goes(notify) -> None:
    db, settings = notify
    assert await _alert(db, Notifier(settings()), _organisation(CONTACTS)) == 2
    assert {d.channel for d in await _deliveries(db)} == {"email"}


def _quiet_now() -> str:
    """Quiet hours running from an hour ago to an hour from now, in Shanghai."""
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    return f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=1):%H:%M}"


async def test_a_text_in_the_quiet_hours_waits_for_their_end_and_an_email_does_not(notify) -> None:
    db, settings = notify
    notifier = Notifier(settings(sms_gateway_url="http://sms.example/send", sms_quiet_hours=_quiet_now()))
    before = datetime.now(UTC)
    assert await _alert(db, notifier, _organisation(CONTACTS[:1])) == 2
    email, sms = await _deliveries(db)
    assert email.send_after <= datetime.now(UTC) + timedelta(seconds=1)
    assert before + timedelta(minutes=55) < sms.send_after <= before + timedelta(hours=1, minutes=1)
    assert sms.send_after.astimezone(ZoneInfo("Asia/Shanghai")).second == 0  # the end of the quiet hours, on the minute


async def test_the_same_alert_again_records_nothing_more(notify) -> None:
    db, settings = notify
    notifier = Notifier(settings())
    organisation = _organisation(CONTACTS)
    event = risk_event_raised("重复", organisation_id=organisation.organisation_id, organisation_name=organisation.name)
    async with db.transaction() as session:
        await notifier.organisations_updated(session, [(organisation, uuid.uuid4(), None)])
        assert await notifier.risk_events_raised(session, [(event, uuid.uuid4(), None)]) == 2
    async with db.transaction() as session:
        assert await notifier.risk_events_raised(session, [(event, uuid.uuid4(), None)]) == 0
    assert len(await _deliveries(db)) == 2


def _decided(organisation: OrganisationUpdated, decision: Measure | None, change: str = "decided") -> RiskEventUpdated:
    return RiskEventUpdated(
        risk_event_id=uuid.uuid4(),
        organisation_id=organisation.organisation_id,
        status=RiskEventStatus.DECIDED,
        severity=Severity.HIGH,
        change=change,
        decision=decision,
        corrective_action_due=date(2026, 12, 31),
        actor="dm-wang",
        reason="抽查不合格",
        updated_at=datetime.now(UTC),
    )


async def test_only_a_decision_that_asks_something_of_the_organisation_is_told(notify) -> None:
    db, settings = notify
    notifier = Notifier(settings())
    organisation = _organisation(CONTACTS[:1])
    async with db.transaction() as session:
        await notifier.organisations_updated(session, [(organisation, uuid.uuid4(), None)])
        for silent in (
            _decided(organisation, Measure.SUSPEND),
            _decided(organisation, Measure.NO_ACTION),
            _decided(organisation, None, "assigned"),
            _decided(organisation, Measure.CORRECTIVE_ACTION, "commented"),
        ):
            assert await notifier.risk_event_updated(session, silent, uuid.uuid4()) == 0
        asked = _decided(organisation, Measure.CORRECTIVE_ACTION)
        assert await notifier.risk_event_updated(session, asked, uuid.uuid4()) == 1
    [message] = await _deliveries(db)
    assert message.template == "decision_made" and message.subject == "【认证决定通知】要求限期整改"
    assert message.body is not None and "请于 2026-12-31 前完成整改" in message.body


async def test_a_certificate_measure_is_told_and_one_for_an_unknown_organisation_is_logged(notify, caplog) -> None:
    db, settings = notify
    notifier = Notifier(settings())
    organisation = _organisation(CONTACTS[1:])

    def change(organisation_id: uuid.UUID) -> CertificateStatusChanged:
        return CertificateStatusChanged(
            certificate_id=uuid.uuid4(),
            organisation_id=organisation_id,
            number="2022010703004512",
            type="CCC",
            old_status=CertificateStatus.VALID,
            new_status=CertificateStatus.SUSPENDED,
            effective_on=date(2026, 12, 3),
            until=date(2027, 3, 3),
            reason="整改未完成",
            risk_event_id=uuid.uuid4(),
            decided_by="dm-wang",
        )

    stranger = uuid.uuid4()
    caplog.set_level(logging.WARNING, logger="services.notify")
    async with db.transaction() as session:
        await notifier.organisations_updated(session, [(organisation, uuid.uuid4(), None)])
        assert (
            await notifier.certificate_status_changed(session, change(organisation.organisation_id), uuid.uuid4()) == 1
        )
        assert await notifier.certificate_status_changed(session, change(stranger), uuid.uuid4()) == 0
    [message] = await _deliveries(db)
    assert message.subject == "[Certification decision] Certificate 2022010703004512 (CCC) suspended"
    assert message.body is not None and "suspended until 2027-03-03" in message.body
    assert any(str(stranger) in r.getMessage() and "nobody told" in r.getMessage() for r in caplog.records)


async def test_no_log_line_carries_a_contacts_address_or_number(notify, caplog) -> None:
    db, settings = notify
    caplog.set_level(logging.DEBUG)
    quiet = settings(sms_gateway_url="http://sms.example/send", sms_quiet_hours=_quiet_now())
    assert await _alert(db, Notifier(quiet), _organisation(CONTACTS)) == 3
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "z***@hongyuan.example" in logged and "138****5678" in logged  # the masked forms say who
    for personal in (EMAIL_ZH, EMAIL_EN, MOBILE, "13900001111"):
        assert personal not in logged
