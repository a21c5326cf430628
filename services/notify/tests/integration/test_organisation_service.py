"""The organisation page's service functions on real PostgreSQL (no HTTP, no broker): the signed links, the page's
copy of an event, and each act (acknowledge, reply, dispute, evidence, self-report) with what it stores, what it
queues in the outbox, and what it refuses."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from services.notify.models import OrganisationContacts, OrganisationLink, OrganisationResponse, messaging
from services.notify.organisations import service
from services.notify.organisations.files import LocalFileStore
from services.notify.organisations.links import LinkRefused, Links
from services.notify.organisations.service import Refused, Upload
from services.notify.settings import NotifySettings
from shared.contracts.notify import ResponseKind
from shared.contracts.rules import (
    Clock,
    ClockKind,
    ClockState,
    ClockUnit,
    LegalBasis,
    RiskEventStatus,
    RiskEventUpdatedV2,
    Severity,
)
from shared.db.session import Database
from shared.kafka.outbox import Outbox
from tests.support.events import risk_event_raised

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
OUTBOX = messaging.outbox


@pytest.fixture
async def notify(service_settings: Any, tmp_path: Path) -> AsyncIterator[tuple[Database, NotifySettings]]:
    settings = service_settings("notify", evidence_dir=tmp_path, link_secret="test-link-key")
    db = Database(settings)
    try:
        yield db, settings
    finally:
        await db.dispose()


async def _outbox(db: Database) -> list[dict[str, Any]]:
    async with db.transaction() as session:
        rows = (await session.execute(select(OUTBOX.c.topic, OUTBOX.c.key, OUTBOX.c.envelope))).all()
    return [{"topic": t, "key": k, **e} for t, k, e in rows]


async def _page(db: Database, links: Links, **fields: Any) -> tuple[OrganisationLink, str]:
    """A risk event kept for the page, and its organisation's link to it (and the token)."""
    event = risk_event_raised("浙江宏远电器有限公司 电热水壶抽查不合格", **fields)
    async with db.transaction() as session:
        await service.keep_raised(session, [event])
        issued = await links.issue(session, event.organisation_id, event.risk_event_id)
    token = issued.url.rsplit("/", 1)[1]
    async with db.transaction() as session:
        return await links.open(session, token), token


async def _act(
    db: Database,
    store: LocalFileStore,
    link: OrganisationLink,
    kind: ResponseKind,
    text: str | None = None,
    uploads: list[Upload] | None = None,
    key: str | None = None,
) -> bool:
    async with db.transaction() as session:
        view = await service.view(session, link)
        return await service.respond(
            session, Outbox(OUTBOX, "notify"), store, link, view, kind, text, uploads or [], key or str(uuid.uuid4())
        )


# --- links --------------------------------------------------------------------------------------------------------


async def test_a_link_is_one_row_per_organisation_and_event_and_opens_its_page(notify) -> None:
    db, settings = notify
    links = Links(settings)
    organisation, event = uuid.uuid4(), uuid.uuid4()
    async with db.transaction() as session:
        first = await links.issue(session, organisation, event)
        again = await links.issue(session, organisation, event)
        general = await links.issue(session, organisation, None)
        other = await links.issue(session, uuid.uuid4(), event)
    assert first == again and len({first.url, general.url, other.url}) == 3
    assert first.url.startswith(f"{settings.page_url.rstrip('/')}/o/") and "/o/s/" in first.short_url
    async with db.transaction() as session:
        opened = await links.open(session, first.url.rsplit("/", 1)[1])
        by_code = await links.by_code(session, first.short_url.rsplit("/", 1)[1])
        assert (opened.organisation_id, opened.risk_event_id) == (organisation, event)
        assert by_code.id == opened.id
        assert (await links.open(session, general.url.rsplit("/", 1)[1])).risk_event_id is None
        assert await session.scalar(select(func.count()).select_from(OrganisationLink)) == 3


async def test_a_link_near_its_expiry_is_signed_again_and_the_old_token_still_opens_until_it_expires(notify) -> None:
    db, settings = notify
    links = Links(settings)
    organisation, event = uuid.uuid4(), uuid.uuid4()
    async with db.transaction() as session:
        first = await links.issue(session, organisation, event)
        row = await session.scalar(select(OrganisationLink).where(OrganisationLink.organisation_id == organisation))
        assert row is not None
        row.expires_at = datetime.now(UTC) + timedelta(hours=2)  # within a day of its end
    async with db.transaction() as session:
        renewed = await links.issue(session, organisation, event)
        row = await session.get(OrganisationLink, row.id, populate_existing=True)
        assert row is not None and row.expires_at > datetime.now(UTC) + timedelta(days=settings.link_lifetime_days - 1)
    assert renewed.short_url == first.short_url  # the short code stays: texts already sent keep working
    async with db.transaction() as session:
        assert (await links.open(session, first.url.rsplit("/", 1)[1])).id == row.id


async def test_a_signed_token_for_no_stored_link_is_unknown_and_an_expired_short_code_is_expired(notify) -> None:
    db, settings = notify
    links = Links(settings)
    async with db.transaction() as session:
        issued = await links.issue(session, uuid.uuid4(), uuid.uuid4())
        code = issued.short_url.rsplit("/", 1)[1]
        unknown = links._serializer.dumps(str(uuid.uuid4()))  # signed with the right key, but no such link
        with pytest.raises(LinkRefused, match="unknown"):
            await links.open(session, unknown)
        with pytest.raises(LinkRefused, match="unknown"):
            await links.by_code(session, "nosuchcode")
        row = await links.by_code(session, code)
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        with pytest.raises(LinkRefused, match="expired"):
            await links.by_code(session, code)


async def test_another_deployments_link_is_refused_as_tampered(notify, service_settings) -> None:
    db, settings = notify
    elsewhere = Links(service_settings("notify", link_secret="another-deployments-key"))
    async with db.transaction() as session:
        foreign = await elsewhere.issue(session, uuid.uuid4(), uuid.uuid4())  # stored here, signed with their key
        with pytest.raises(LinkRefused, match="tampered"):
            await Links(settings).open(session, foreign.url.rsplit("/", 1)[1])


# --- the page's copy of an event ------------------------------------------------------------------------------------


def _clock(state: ClockState, ended: date | None = None) -> Clock:
    basis = LegalBasis(document="认证机构管理办法", article="第二十一条", requirement="暂停")
    return Clock(
        clock_id=uuid.UUID(int=7),
        kind=ClockKind.SUSPENSION,
        basis=basis,
        starts_on=date(2026, 12, 1),
        unit=ClockUnit.WORKING_DAYS,
        length=5,
        due_on=date(2026, 12, 8),
        state=state,
        ended_on=ended,
    )


async def test_the_page_shows_the_event_its_status_and_its_clocks_as_last_published(notify) -> None:
    db, settings = notify
    links = Links(settings)
    link, _ = await _page(db, links, clocks=[_clock(ClockState.RUNNING)])
    async with db.transaction() as session:
        view = await service.view(session, link)
    assert view.event is not None and view.event.risk_event_id == link.risk_event_id
    assert view.status == "open" and view.clocks[0]["state"] == "running" and view.responses == []
    assert view.organisation_name == "浙江宏远电器有限公司 电热水壶抽查不合格有限公司"
    update = RiskEventUpdatedV2(
        risk_event_id=view.event.risk_event_id,
        organisation_id=view.event.organisation_id,
        status=RiskEventStatus.DECIDED,
        severity=Severity.HIGH,
        change="decided",
        updated_at=datetime.now(UTC),
        clocks=[_clock(ClockState.MET, date(2026, 12, 5))],
    )
    async with db.transaction() as session:
        await service.keep_updated(session, update)
        await service.keep_raised(session, [view.event])  # a re-delivery of the raised event changes nothing
    async with db.transaction() as session:
        later = await service.view(session, link)
    assert (
        later.status == "decided" and later.clocks[0]["state"] == "met" and later.clocks[0]["ended_on"] == "2026-12-05"
    )


async def test_an_update_for_an_event_the_page_never_saw_is_ignored_and_a_general_link_uses_the_contacts_name(
    notify,
) -> None:
    db, settings = notify
    organisation = uuid.uuid4()
    async with db.transaction() as session:
        await service.keep_updated(
            session,
            RiskEventUpdatedV2(
                risk_event_id=uuid.uuid4(),
                organisation_id=organisation,
                status=RiskEventStatus.CLOSED,
                severity=Severity.LOW,
                change="closed",
                updated_at=datetime.now(UTC),
            ),
        )
        session.add(OrganisationContacts(organisation_id=organisation, name="宏远电器", contacts=[], revision=1))
        issued = await Links(settings).issue(session, organisation, None)
    async with db.transaction() as session:
        link = await Links(settings).open(session, issued.url.rsplit("/", 1)[1])
        view = await service.view(session, link)
    assert (view.event, view.status, view.clocks, view.organisation_name) == (None, None, [], "宏远电器")


# --- the acts -------------------------------------------------------------------------------------------------------


async def test_acknowledge_reply_and_dispute_are_stored_once_and_published_once(notify, tmp_path: Path) -> None:
    db, settings = notify
    link, _ = await _page(db, Links(settings))
    store = LocalFileStore(tmp_path)
    assert await _act(db, store, link, ResponseKind.ACKNOWLEDGED, key="ack-1")
    assert not await _act(db, store, link, ResponseKind.ACKNOWLEDGED, key="ack-1")  # the same form again
    assert await _act(db, store, link, ResponseKind.REPLIED, "  该批次系假冒产品，复检合格。 ", key="reply-1")
    assert await _act(db, store, link, ResponseKind.DISPUTED, "这不是我们公司：我司不生产电热水壶", key="dispute-1")
    published = await _outbox(db)
    assert [p["topic"].endswith("organisation-responded.v1") for p in published] == [True] * 3
    kinds = [p["payload"]["kind"] for p in published]
    assert sorted(kinds) == ["acknowledged", "disputed", "replied"]
    for p in published:
        assert p["key"] == str(link.organisation_id) and p["producer"] == "notify"
        assert p["payload"]["risk_event_id"] == str(link.risk_event_id) and p["payload"]["link_id"] == str(link.id)
        assert p["payload"]["organisation_name"] == "浙江宏远电器有限公司 电热水壶抽查不合格有限公司"
    reply = next(p for p in published if p["payload"]["kind"] == "replied")
    assert reply["payload"]["text"] == "该批次系假冒产品，复检合格。"  # trimmed
    async with db.transaction() as session:
        view = await service.view(session, link)
    assert [r.kind for r in view.responses] == ["acknowledged", "replied", "disputed"]
    assert {r.id for r in view.responses} == {uuid.UUID(p["event_id"]) for p in published}


@pytest.mark.parametrize(
    ("kind", "text", "why"),
    [
        (ResponseKind.REPLIED, None, "text_required"),
        (ResponseKind.REPLIED, "   ", "text_required"),
        (ResponseKind.DISPUTED, "", "text_required"),
        (ResponseKind.REPLIED, "说" * 5001, "text_too_long"),
        (ResponseKind.EVIDENCE_UPLOADED, "见附件", "file_required"),
    ],
)
async def test_an_act_missing_what_it_needs_is_refused_and_nothing_is_stored(
    notify, tmp_path: Path, kind: ResponseKind, text: str | None, why: str
) -> None:
    db, settings = notify
    link, _ = await _page(db, Links(settings))
    with pytest.raises(Refused) as refused:
        await _act(db, LocalFileStore(tmp_path), link, kind, text)
    assert (refused.value.status, refused.value.why) == (422, why)
    assert await _outbox(db) == []


async def test_evidence_is_stored_by_content_and_published_with_each_files_facts(notify, tmp_path: Path) -> None:
    db, settings = notify
    link, _ = await _page(db, Links(settings))
    store = LocalFileStore(tmp_path / "evidence")
    uploads = [Upload("整改报告.pdf", PDF), Upload("现场/照片.png", PNG), Upload("副本.pdf", PDF)]
    assert await _act(db, store, link, ResponseKind.CORRECTIVE_ACTION_DONE, "已更换供应商", uploads)
    [event] = await _outbox(db)
    files = event["payload"]["files"]
    assert [(f["filename"], f["content_type"], f["size"]) for f in files] == [
        ("整改报告.pdf", "application/pdf", len(PDF)),
        ("现场_照片.png", "image/png", len(PNG)),
        ("副本.pdf", "application/pdf", len(PDF)),
    ]
    assert len({f["file_id"] for f in files}) == 3
    kept = sorted(p.relative_to(store.folder).as_posix() for p in store.folder.rglob("*") if p.is_file())
    assert len(kept) == 2  # the same PDF twice is one object
    assert all(k.startswith(f"{link.organisation_id}/{link.risk_event_id}/") for k in kept)
    assert await store.get(kept[0]) in (PDF, PNG)
    assert event["payload"]["kind"] == "corrective_action_done" and event["payload"]["text"] == "已更换供应商"


async def test_a_file_that_is_not_a_pdf_or_image_is_refused_whole_and_nothing_is_kept(notify, tmp_path: Path) -> None:
    db, settings = notify
    link, _ = await _page(db, Links(settings))
    store = LocalFileStore(tmp_path / "evidence")
    with pytest.raises(Refused) as refused:
        await _act(
            db,
            store,
            link,
            ResponseKind.EVIDENCE_UPLOADED,
            None,
            [Upload("ok.pdf", PDF), Upload("report.pdf", b"PK\x03\x04 a renamed zip")],
        )
    assert (refused.value.status, refused.value.why, refused.value.values) == (415, "bad_type", {"name": "report.pdf"})
    assert await _outbox(db) == []
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(OrganisationResponse)) == 0


async def test_a_general_link_cannot_answer_an_event(notify, tmp_path: Path) -> None:
    db, settings = notify
    links = Links(settings)
    async with db.transaction() as session:
        issued = await links.issue(session, uuid.uuid4(), None)
    async with db.transaction() as session:
        link = await links.open(session, issued.url.rsplit("/", 1)[1])
    with pytest.raises(Refused) as refused:
        await _act(db, LocalFileStore(tmp_path), link, ResponseKind.ACKNOWLEDGED)
    assert (refused.value.status, refused.value.why) == (422, "no_event")


async def test_each_link_sees_only_its_own_organisations_acts(notify, tmp_path: Path) -> None:
    db, settings = notify
    links = Links(settings)
    ours, _ = await _page(db, links)
    theirs, _ = await _page(db, links)
    store = LocalFileStore(tmp_path)
    await _act(db, store, ours, ResponseKind.REPLIED, "我司说明", key="same-key")
    await _act(db, store, theirs, ResponseKind.DISPUTED, "不是我司", key="same-key")  # the same key: another act
    async with db.transaction() as session:
        mine, other = await service.view(session, ours), await service.view(session, theirs)
    assert [r.text for r in mine.responses] == ["我司说明"] and [r.text for r in other.responses] == ["不是我司"]
    assert mine.responses[0].organisation_id == ours.organisation_id != theirs.organisation_id
    assert {p["key"] for p in await _outbox(db)} == {str(ours.organisation_id), str(theirs.organisation_id)}


# --- self-report ----------------------------------------------------------------------------------------------------


async def _report(
    db: Database, link: OrganisationLink, form: dict[str, str | None] | None = None, key: str = ""
) -> bool:
    values: dict[str, str | None] = {
        "problem": "quality_accident",
        "description": "自查发现一批充电器外壳过热",
        "product": None,
        "occurred_on": None,
    } | (form or {})
    async with db.transaction() as session:
        view = await service.view(session, link)
        return await service.self_report(
            session,
            Outbox(OUTBOX, "notify"),
            link,
            view,
            values["problem"],
            values["description"],
            values["product"],
            values["occurred_on"],
            key or str(uuid.uuid4()),
        )


async def test_a_self_report_is_published_as_a_signal_for_rules_once(notify) -> None:
    db, settings = notify
    link, _ = await _page(db, Links(settings))
    form: dict[str, str | None] = {"product": "  充电器 ", "occurred_on": "2026-11-28", "description": " 外壳过热 "}
    assert await _report(db, link, form, key="r-1")
    assert not await _report(db, link, form, key="r-1")
    [event] = await _outbox(db)
    payload = event["payload"]
    assert event["topic"].endswith("self-reported.v1") and event["key"] == str(link.organisation_id)
    assert (payload["problem"], payload["description"], payload["product"], payload["occurred_on"]) == (
        "quality_accident",
        "外壳过热",
        "充电器",
        "2026-11-28",
    )
    assert payload["risk_event_id"] == str(link.risk_event_id)
    async with db.transaction() as session:
        [kept] = (await service.view(session, link)).responses
    assert (kept.kind, kept.text) == ("self_report", "quality_accident: 外壳过热")


@pytest.mark.parametrize(
    ("form", "why"),
    [
        ({"problem": None}, "problem_required"),
        ({"problem": "tax_evasion"}, "problem_required"),
        ({"description": "   "}, "description_required"),
        ({"description": "长" * 5001}, "description_required"),
        ({"occurred_on": "28/11/2026"}, "bad_date"),
        ({"occurred_on": "2026-02-30"}, "bad_date"),
    ],
)
async def test_a_self_report_missing_what_it_needs_is_refused(notify, form: dict[str, str | None], why: str) -> None:
    db, settings = notify
    link, _ = await _page(db, Links(settings))
    with pytest.raises(Refused) as refused:
        await _report(db, link, form)
    assert (refused.value.status, refused.value.why) == (422, why)
    assert await _outbox(db) == []


async def test_nothing_the_page_logs_carries_a_contacts_address_or_number(notify, tmp_path: Path, caplog) -> None:
    db, settings = notify
    link, _ = await _page(db, Links(settings))
    caplog.set_level(logging.DEBUG)
    secret = "联系人 zhang.san@hongyuan.example 电话 13812345678"
    await _act(db, LocalFileStore(tmp_path), link, ResponseKind.REPLIED, secret)
    await _report(db, link, {"description": secret})
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("services.notify"))
    assert str(link.organisation_id) in logged
    assert "zhang.san@hongyuan.example" not in logged and "13812345678" not in logged
