"""The statutory clocks on the real stack (issue 15 §2): started when an event is raised or a match confirmed,
shown with their legal basis in the rules API, ended by decisions, published on the v2 topics, and counted
for timeliness by reporting (the regulator's report and the dashboard)."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from typing import Any

import openpyxl
import pytest
from sqlalchemy import update

from services.reporting.main import create_app as create_reporting
from services.rules.main import create_app as create_rules
from services.rules.review import decisions
from services.rules.ruleset.clocks import add_months
from services.rules.tables import DeadlineClock
from shared import workdays
from shared.contracts import Topic
from shared.contracts.ingest import (
    CheckLevel,
    CreditCodeStatus,
    ProductV2,
    SignalDetail,
    SignalKind,
    SignalReceivedV2,
    Subject,
)
from shared.db.session import Database
from shared.workdays import add_working_days
from tests.integration.test_rules_matching import publish, send_signal
from tests.support.infra import ADMIN, as_role, running
from tests.support.review import risk_events
from tests.support.topics import payloads
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

DM = as_role("decision_maker")
CODE = "91330212PDY0010123"  # synthetic, valid (DOMAIN.md §4.6)
QMS_ONLY = {
    "external_ref": "ORG-Q", "name": "广东澄川电器制造有限公司", "address": "广东省佛山市顺德区", "province": "广东",
    "city": "佛山", "certificates": [{"number": "Q-1", "type": "QMS", "scope": "家用电冰箱的生产"}],
}  # fmt: skip
CCC_HOLDER = {
    "external_ref": "ORG-7", "name": "浙江宏远电器有限公司", "address": "浙江省宁波市鄞州区", "province": "浙江",
    "city": "宁波",
    "certificates": [{"number": "2022010703004512", "type": "CCC", "scope": "电动自行车用充电器", "products": ["HY-4820A"]}],
}  # fmt: skip


async def _events(client: Any) -> list[dict[str, Any]]:
    return await risk_events(client)


def _mine(found: list[dict[str, Any]], event_id: str) -> list[dict[str, Any]]:
    return [p for p in found if p["risk_event_id"] == event_id]


async def test_a_national_spot_check_runs_the_audit_clock_from_the_notice_and_reporting_counts_it(
    platform, service_settings
) -> None:
    today = workdays.today()
    notice = today - timedelta(days=3)
    rules_app = create_rules(service_settings("rules"), platform)
    reporting_app = create_reporting(service_settings("reporting"), platform)
    async with running(rules_app, as_role("regulator")) as rules, running(reporting_app, as_role("regulator")) as rep:
        assert (await rules.put("/organisations", json=QMS_ONLY, headers=ADMIN)).status_code == 200
        signal = SignalReceivedV2(
            signal_id=uuid.uuid4(), feed="samr", kind=SignalKind.SPOT_CHECK_FAILURE,
            subject=Subject(name="广东澄川电器制造有限公司"), product=ProductV2(name="家用电冰箱"),
            detail=SignalDetail(level=CheckLevel.NATIONAL, bulletin_no="市场监管总局2026年第11号"), published_on=notice,
        )  # fmt: skip
        await publish(platform, Topic.SIGNAL_RECEIVED_V2, signal.subject.name, signal)
        [event] = await eventually(lambda: _events(rules), lambda e: len(e) == 1)

        due = notice + timedelta(days=30)
        [clock] = event["clocks"]
        assert (clock["kind"], clock["starts_on"], clock["due_on"], clock["state"]) == (
            "short_notice_audit", notice.isoformat(), due.isoformat(), "running",
        )  # fmt: skip
        assert clock["basis"]["document"].startswith("CNCA-QMS-01:2025") and clock["basis"]["article"] == "§5.9.3"
        assert (clock["length"], clock["unit"], clock["provisional"]) == (30, "calendar_days", False)
        assert event["decision_due"] == due.isoformat()

        decided = await rules.post(
            f"/risk-events/{event['id']}/decision", json={"measure": "special_audit", "reason": "提前较短时间通知审核"},
            headers=DM,
        )  # fmt: skip
        assert decided.status_code == 200, decided.text
        [clock] = decided.json()["clocks"]
        assert (clock["state"], clock["ended_on"], clock["ended_by"]) == ("met", today.isoformat(), "special_audit")

        raised = await eventually(lambda: payloads(platform, Topic.RISK_EVENT_RAISED_V2), lambda found: found)
        [v2] = _mine(raised, event["id"])
        assert v2["signal_published_on"] == notice.isoformat() and v2["title"] == event["title"]
        assert [(c["kind"], c["due_on"], c["basis"]["article"]) for c in v2["clocks"]] == [
            ("short_notice_audit", due.isoformat(), "§5.9.3")
        ]
        assert "clocks" not in _mine(await payloads(platform, Topic.RISK_EVENT_RAISED), event["id"])[0]  # v1 as was
        updates = await eventually(lambda: payloads(platform, Topic.RISK_EVENT_UPDATED_V2), lambda found: found)
        [update_v2] = _mine(updates, event["id"])
        assert update_v2["change"] == "decided" and update_v2["clocks"][0]["state"] == "met"

        # reporting: the deadline fell due in the period, was met, 3 days from the notice to the decision
        period = {"start": notice.isoformat(), "end": due.isoformat()}

        async def audit_line() -> dict[str, Any]:
            answer = (await rep.get("/reports/regulator", params={**period, "format": "json"})).json()
            return next(line for line in answer["timeliness"] if line["kind"] == "short_notice_audit")

        line = await eventually(audit_line, lambda found: found["met"] == 1)
        assert (line["due"], line["missed"], line["running"], line["median_days"], line["max_days"]) == (1, 0, 0, 3, 3)
        assert line["basis"].endswith("§5.9.3")
        others = (await rep.get("/reports/regulator", params={**period, "format": "json"})).json()["timeliness"]
        assert {o["kind"]: o["due"] for o in others} == {
            "short_notice_audit": 1, "suspension": 0, "withdrawal": 0, "suspension_limit": 0, "reply": 0,
        }  # fmt: skip
        workbook = (await rep.get("/reports/regulator", params={**period, "format": "xlsx"})).content
        sheet = openpyxl.load_workbook(io.BytesIO(workbook))["Timeliness"]
        rows = list(sheet.values)
        assert rows[0][:4] == ("clock", "legal basis", "due in period", "met")
        assert ("short_notice_audit", line["basis"], 1, 1, 0, 0, 3, 3) in rows
        page = (await rep.get("/dashboard", params={**period, "lang": "en"})).text
        assert 'data-clock="short_notice_audit"' in page and "Statutory deadlines" in page


async def test_a_confirmed_match_starts_art_21_and_a_suspension_starts_its_6_month_limit(
    platform, service_settings
) -> None:
    settings = service_settings("rules")
    async with running(create_rules(settings, platform), as_role("regulator")) as rules:
        assert (await rules.put("/organisations", json=CCC_HOLDER, headers=ADMIN)).status_code == 200
        await send_signal(platform, "浙江宏远电器有限公司", "电动自行车用充电器", "HY-4820A")  # a name: a lead only
        [event] = await eventually(lambda: _events(rules), lambda e: len(e) == 1)
        url, today = f"/risk-events/{event['id']}", workdays.today()
        assert event["recommended_measure"] == "suspend" and event["clocks"] == []  # nothing confirmed yet

        confirmed = await rules.post(f"{url}/match-verdict", json={"verdict": "confirmed"}, headers=as_role("reviewer"))
        assert confirmed.status_code == 200
        [art21] = confirmed.json()["clocks"]
        assert (art21["kind"], art21["due_on"], art21["basis"]["document"], art21["basis"]["article"]) == (
            "suspension", (today + timedelta(days=5)).isoformat(), "认证机构管理办法", "Art. 21",
        )  # fmt: skip
        assert confirmed.json()["decision_due"] == art21["due_on"]

        until = today + timedelta(days=90)
        suspend = {"measure": "suspend", "reason": "暂停", "suspended_until": until.isoformat()}
        suspended = (await rules.post(f"{url}/decision", json=suspend, headers=DM)).json()
        assert [(c["kind"], c["state"], c["due_on"]) for c in suspended["clocks"]] == [
            ("suspension", "met", art21["due_on"]),
            ("suspension_limit", "running", add_months(today, 6).isoformat()),
        ]

        db = Database(settings)  # as if the suspension had begun 5 months ago: one more month at most
        try:
            async with db.transaction() as session:
                await session.execute(
                    update(DeadlineClock).where(DeadlineClock.kind == "suspension_limit")
                    .values(starts_on=today - timedelta(days=150), due_on=today + timedelta(days=30))
                )  # fmt: skip
        finally:
            await db.dispose()
        longer = {**suspend, "suspended_until": (today + timedelta(days=31)).isoformat()}
        refused = await rules.post(f"{url}/decision", json=longer, headers=DM)
        assert refused.status_code == 422 and "it may last until" in refused.json()["message"], refused.text

        restored = (
            await rules.post(f"{url}/decision", json={"measure": "restore", "reason": "整改通过"}, headers=DM)
        ).json()
        limit = next(c for c in restored["clocks"] if c["kind"] == "suspension_limit")
        assert (limit["state"], limit["ended_by"]) == ("met", "restore")

        updates = await eventually(
            lambda: payloads(platform, Topic.RISK_EVENT_UPDATED_V2), lambda found: len(_mine(found, event["id"])) >= 3
        )
        assert [u["change"] for u in _mine(updates, event["id"])] == ["match_confirmed", "decided", "decided"]
        v1 = _mine(await payloads(platform, Topic.RISK_EVENT_UPDATED), event["id"])
        assert [u["change"] for u in v1] == ["decided", "decided"]  # a confirmation changes nothing v1 shows


async def test_a_listing_matched_by_its_credit_code_runs_the_withdrawal_clock_in_working_days(
    platform, service_settings
) -> None:
    rules_settings = service_settings("rules")
    app = create_rules(rules_settings, platform)
    outbox = app.state.runtime.outbox
    async with running(app, as_role("regulator")) as rules:
        listed = {**QMS_ONLY, "external_ref": "ORG-L", "name": "浙江宏远电器有限公司", "credit_code": CODE}
        assert (await rules.put("/organisations", json=listed, headers=ADMIN)).status_code == 200
        signal = SignalReceivedV2(
            signal_id=uuid.uuid4(), feed="gsxt", kind=SignalKind.SERIOUS_ILLEGAL_LISTED,
            subject=Subject(name="浙江宏远电器有限公司", credit_code=CODE, credit_code_status=CreditCodeStatus.VALID),
            detail=SignalDetail(listed_on=workdays.today(), reason="伪造、冒用认证证书（第七条第五项）"),
        )  # fmt: skip
        await publish(platform, Topic.SIGNAL_RECEIVED_V2, CODE, signal)
        [event] = await eventually(lambda: _events(rules), lambda e: len(e) == 1)
        counted = add_working_days(workdays.today(), 5)
        [clock] = event["clocks"]
        assert (clock["kind"], clock["unit"], clock["due_on"], clock["provisional"]) == (
            "withdrawal", "working_days", counted.due.isoformat(), counted.provisional,
        )  # fmt: skip
        assert (clock["basis"]["article"], clock["calendar_note"]) == ("§7.3.1", counted.note)
        assert event["decision_due"] == counted.due.isoformat() and event["recommended_measure"] == "withdraw"

        # an explanation asked by a day: the organisation's reply clock, met when it answers (its page calls this)
        reply_due = (workdays.today() + timedelta(days=10)).isoformat()
        asked = await rules.post(
            f"/risk-events/{event['id']}/decision", headers=DM,
            json={"measure": "request_explanation", "reason": "请说明", "reply_due": reply_due},
        )  # fmt: skip
        assert asked.status_code == 200, asked.text
        reply = next(c for c in asked.json()["clocks"] if c["kind"] == "reply")
        assert (reply["due_on"], reply["unit"], reply["basis"]["article"]) == (reply_due, "set_by_decision", "Art. 26")
        db = Database(rules_settings)
        try:
            async with db.transaction() as session:
                await decisions.replied(session, outbox, uuid.UUID(event["id"]), "浙江宏远电器有限公司", "产品系假冒")
        finally:
            await db.dispose()
        answered = (await rules.get(f"/risk-events/{event['id']}")).json()
        reply = next(c for c in answered["clocks"] if c["kind"] == "reply")
        assert (reply["state"], reply["ended_by"]) == ("met", "reply")
        assert answered["audit"][-1]["action"] == "replied" and answered["audit"][-1]["actor"] == "浙江宏远电器有限公司"
        wrong = await rules.post(
            f"/risk-events/{event['id']}/decision", headers=DM,
            json={"measure": "no_action", "reason": "x", "reply_due": reply_due},
        )  # fmt: skip
        assert wrong.status_code == 422 and "reply_due goes with request_explanation" in wrong.text
