"""Reviewing and deciding a risk event through the rules API, on the real stack: assign, comment, decide
(corrective action, suspension, restoration), close; certificates change status only by a decision,
every step is audited and published."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.rules.main import create_app
from services.rules.review import decisions
from shared import workdays
from shared.contracts import Topic
from shared.db.session import Database
from shared.workdays import add_working_days
from tests.integration.test_rules_matching import send_signal
from tests.support.infra import ADMIN, NO_TOKEN, as_role, bearer, running
from tests.support.review import risk_events
from tests.support.topics import payloads
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

ORGANISATION = {
    "external_ref": "ORG-7",
    "name": "浙江宏远电器有限公司",
    "address": "浙江省宁波市鄞州区",
    "province": "浙江",
    "city": "宁波",
    "certificates": [
        {"number": "2022010703004512", "type": "CCC", "scope": "电动自行车用充电器", "products": ["HY-4820A"]},
        {"number": "Q-7", "type": "QMS", "scope": "电动自行车用充电器的生产"},
    ],
}


async def test_a_risk_event_is_assigned_decided_and_closed(platform, service_settings) -> None:
    app = create_app(service_settings("rules"), platform)
    async with running(app, as_role("regulator")) as rules:  # reads as the regulator unless a request says
        assert (await rules.put("/organisations", json=ORGANISATION, headers=NO_TOKEN)).status_code == 401
        assert (await rules.put("/organisations", json=ORGANISATION, headers=ADMIN)).status_code == 200
        dm, reviewer = await bearer(rules, "dm-wang", "decision_maker"), await bearer(rules, "reviewer-li", "reviewer")
        await send_signal(platform, "浙江宏远电器有限公司", "电动自行车用充电器", "HY-4820A")
        raised = await eventually(lambda: _events(rules), lambda e: len(e) == 1)
        event_id = raised[0]["id"]
        url = f"/risk-events/{event_id}"
        today = workdays.today()

        closing_early = await rules.post(f"{url}/close", json={"reason": "nothing to do"}, headers=dm)
        assert closing_early.status_code == 409 and "decide it first" in closing_early.json()["message"]

        assigned = await rules.post(f"{url}/assign", json={"assignee": "reviewer-li"}, headers=dm)
        assert assigned.status_code == 200
        assert (assigned.json()["status"], assigned.json()["assigned_to"]) == ("in_review", "reviewer-li")
        comment = {"text": "型号在证书范围内，已核对抽查报告"}
        assert (await rules.post(f"{url}/comments", json=comment, headers=reviewer)).status_code == 201

        # Who may do what: a reviewer and an administrator decide nothing; a revoked token stops working.
        decision = {"measure": "no_action", "reason": "x"}
        for headers, status, says in (
            (reviewer, 403, "reviewer-li (reviewer) may not decide risk events"),
            (ADMIN, 403, "admin (administrator) may not decide"),
            ({"Authorization": "Bearer not-a-token"}, 401, "unknown or revoked"),
            (NO_TOKEN, 401, "bearer token"),
        ):
            refused = await rules.post(f"{url}/decision", json=decision, headers=headers)
            assert refused.status_code == status and says in refused.json()["message"], refused.text
        leaver = await rules.post("/tokens", json={"name": "dm-leaver", "role": "decision_maker"}, headers=ADMIN)
        assert (await rules.delete(f"/tokens/{leaver.json()['id']}", headers=ADMIN)).status_code == 200
        gone = {"Authorization": f"Bearer {leaver.json()['token']}"}
        assert (await rules.post(f"{url}/decision", json=decision, headers=gone)).status_code == 401
        assert (await rules.post("/tokens", json={"name": "x", "role": "regulator"}, headers=dm)).status_code == 403
        tokens = (await rules.get("/tokens", headers=ADMIN)).json()
        assert {t["name"] for t in tokens} == {"dm-wang", "reviewer-li", "dm-leaver"} and "token" not in tokens[0]

        # Each bad request says what is wrong, and changes nothing.
        bad = [
            ({"measure": "corrective_action", "reason": "x"}, 422, "corrective_action_due"),
            ({"measure": "corrective_action", "reason": "x",
              "corrective_action_due": today.isoformat()}, 422, "after today"),
            ({"measure": "suspend", "reason": "x"}, 422, "suspended_until"),
            ({"measure": "suspend", "reason": "x",
              "suspended_until": (today + timedelta(days=240)).isoformat()}, 422, "6 months"),
            ({"measure": "suspend", "reason": "x", "certificates": ["NOPE"],
              "suspended_until": (today + timedelta(days=90)).isoformat()}, 422, "NOPE"),
            ({"measure": "restore", "reason": "x"}, 409, "no certificate"),
            ({"measure": "special_audit", "reason": "x", "certificates": ["Q-7"]}, 422,
             "changes no certificate"),
            ({"measure": "close", "reason": "x"}, 422, "close the event instead"),
            ({"measure": "maybe", "reason": "x"}, 422, "measure"),
            ({"measure": "no_action"}, 422, "reason"),
        ]  # fmt: skip
        for body, status, says in bad:
            response = await rules.post(f"{url}/decision", json=body, headers=dm)
            assert response.status_code == status and says in response.text, (body, response.text)
        assert (await rules.get(url)).json()["status"] == "in_review"

        due = (today + timedelta(days=30)).isoformat()
        decided = await rules.post(f"{url}/decision", headers=dm, json={
            "measure": "corrective_action", "reason": "抽查不合格：整改", "corrective_action_due": due,
        })  # fmt: skip
        assert decided.status_code == 200 and decided.json()["decision"] == "corrective_action"

        until = (today + timedelta(days=90)).isoformat()
        suspended = await rules.post(f"{url}/decision", headers=dm, json={
            "measure": "suspend", "reason": "整改未完成，暂停CCC证书",
            "suspended_until": until, "certificates": ["2022010703004512"],
        })  # fmt: skip
        assert suspended.status_code == 200 and suspended.json()["status"] == "decided"
        org = (await rules.get(f"/organisations/{raised[0]['organisation_id']}")).json()
        assert {c["number"]: c["status"] for c in org["certificates"]} == {
            "2022010703004512": "suspended",
            "Q-7": "valid",
        }

        restored = await rules.post(f"{url}/decision", json={"measure": "restore", "reason": "整改通过"}, headers=dm)
        assert restored.status_code == 200
        org = (await rules.get(f"/organisations/{raised[0]['organisation_id']}")).json()
        assert {c["status"] for c in org["certificates"]} == {"valid"}

        closed = await rules.post(f"{url}/close", json={"reason": "整改完成"}, headers=dm)
        assert closed.status_code == 200 and closed.json()["status"] == "closed"
        late = await rules.post(f"{url}/decision", json={"measure": "no_action", "reason": "y"}, headers=dm)
        assert late.status_code == 409 and "closed" in late.json()["message"]

        trail = (await rules.get(url)).json()["audit"]
        steps = [(a["action"], a["actor"]) for a in trail if a["action"] != "raised"]
        assert steps == [
            ("assigned", "dm-wang"), ("commented", "reviewer-li"), ("decided", "dm-wang"), ("decided", "dm-wang"),
            ("decided", "dm-wang"), ("closed", "dm-wang"),
        ]  # fmt: skip
        suspension = next(a for a in trail if a["detail"].get("measure") == "suspend")
        assert (
            suspension["detail"]["certificates"] == ["2022010703004512"]
            and suspension["reason"] == "整改未完成，暂停CCC证书"
        )

        statuses = await eventually(
            lambda: payloads(platform, Topic.CERTIFICATE_STATUS_CHANGED), lambda found: len(found) >= 2
        )
        assert [(s["number"], s["old_status"], s["new_status"], s["until"]) for s in statuses] == [
            ("2022010703004512", "valid", "suspended", until), ("2022010703004512", "suspended", "valid", None),
        ]  # fmt: skip
        assert all(s["decided_by"] == "dm-wang" and s["risk_event_id"] == event_id for s in statuses)
        updates = await eventually(lambda: payloads(platform, Topic.RISK_EVENT_UPDATED), lambda found: len(found) >= 5)
        assert [(u["change"], u["status"], u["decision"]) for u in updates] == [
            ("assigned", "in_review", None), ("decided", "decided", "corrective_action"),
            ("decided", "decided", "suspend"), ("decided", "decided", "restore"), ("closed", "closed", None),
        ]  # fmt: skip
        assert updates[1]["corrective_action_due"] == due


async def _events(rules: Any) -> list[dict[str, Any]]:
    return await risk_events(rules)


async def test_a_suspension_that_ends_undecided_reopens_its_event(platform, service_settings) -> None:
    settings = service_settings("rules")
    app = create_app(settings, platform)
    async with running(app, as_role("regulator")) as rules:
        assert (await rules.put("/organisations", json=ORGANISATION, headers=ADMIN)).status_code == 200
        dm = await bearer(rules, "dm-wang", "decision_maker")
        await send_signal(platform, "浙江宏远电器有限公司", "电动自行车用充电器", "HY-4820A")
        [event] = await eventually(lambda: _events(rules), lambda e: len(e) == 1)
        url, today = f"/risk-events/{event['id']}", workdays.today()
        until = today + timedelta(days=90)
        suspend = {"measure": "suspend", "reason": "暂停", "suspended_until": until.isoformat()}
        suspended = (await rules.post(f"{url}/decision", json=suspend, headers=dm)).json()
        assert suspended["suspended_until"] == until.isoformat()

        outbox = app.state.runtime.outbox
        db = Database(settings)
        try:
            async with db.transaction() as session:  # the last day of the suspension: nothing yet
                assert await decisions.reopen_expired(session, outbox, until) == 0
            async with db.transaction() as session:  # the day after: reopened, once
                assert await decisions.reopen_expired(session, outbox, until + timedelta(days=1)) == 1
            async with db.transaction() as session:
                assert await decisions.reopen_expired(session, outbox, until + timedelta(days=2)) == 0
        finally:
            await db.dispose()

        reopened = (await rules.get(url)).json()
        assert (reopened["status"], reopened["suspended_until"]) == ("in_review", None)
        withdrawal = add_working_days(until, 5).due  # 5 working days to withdraw (or restore): QMS rule §7.3.1
        assert reopened["decision_due"] == withdrawal.isoformat()
        assert [(c["kind"], c["due_on"]) for c in reopened["clocks"] if c["kind"] == "withdrawal"] == [
            ("withdrawal", withdrawal.isoformat())
        ]
        last = reopened["audit"][-1]
        assert (last["action"], last["actor"]) == ("reopened", "system") and "restore or withdraw" in last["reason"]
        updates = await eventually(lambda: payloads(platform, Topic.RISK_EVENT_UPDATED), lambda found: len(found) >= 2)
        assert [(u["change"], u["status"]) for u in updates] == [("decided", "decided"), ("reopened", "in_review")]

        # Withdrawing then clears it: nothing is reopened again.
        withdraw = await rules.post(f"{url}/decision", json={"measure": "withdraw", "reason": "未整改"}, headers=dm)
        assert withdraw.status_code == 200 and withdraw.json()["suspended_until"] is None


async def test_reads_need_a_token_the_regulator_reads_and_nobody_else_does(platform, service_settings) -> None:
    async with running(create_app(service_settings("rules"), platform)) as rules:
        regulator = await bearer(rules, "samr-observer", "regulator")
        for method, path, body in (
            ("GET", "/risk-events", None), ("GET", "/organisations", None),
            ("POST", "/screening/match", {"name": "浙江宏远电器有限公司"}),
        ):  # fmt: skip
            anonymous = await rules.request(method, path, json=body)
            assert anonymous.status_code == 401 and "bearer token" in anonymous.json()["message"], path
            assert (await rules.request(method, path, json=body, headers=regulator)).status_code == 200, path
        refused = await rules.put("/organisations", json=ORGANISATION, headers=regulator)
        assert refused.status_code == 403 and "samr-observer (regulator) may not maintain the registry" in refused.text


async def test_a_wrong_token_is_a_401_on_reads(platform, service_settings) -> None:
    """Issue 12: an unknown token used to be accepted (200) on every open read."""
    async with running(create_app(service_settings("rules"), platform)) as rules:
        assert (await rules.get("/risk-events")).status_code == 401  # reads need a token too (issue 12)
        wrong = await rules.get("/risk-events", headers={"Authorization": "Bearer not-a-token"})
        assert wrong.status_code == 401 and "unknown or revoked" in wrong.json()["message"]
        regulator = await bearer(rules, "samr-observer", "regulator")
        assert (await rules.get("/organisations", headers=regulator)).status_code == 200
