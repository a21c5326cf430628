"""A signal that corrects an earlier one, on the real stack (issue 15 §3): a 复检 bulletin row (fixture 15)
for the product and batch of an earlier failure (fixture 03, as published) supersedes that failure's event,
pending confirmation, with the evidence; nothing closes until a decision-maker confirms; confirming closes the
event and voids its clocks, and leaves the certificates as they were."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.ingest.feeds import ParsedRecord, parse_file
from services.rules.main import create_app
from shared import workdays
from shared.contracts import Topic
from shared.contracts.ingest import CheckLevel, SignalReceivedV2, SignalReceivedV3
from tests.integration.test_rules_matching import publish
from tests.support.infra import ADMIN, as_role, bearer, running
from tests.support.review import risk_events
from tests.support.topics import payloads
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "bulletins"
ORGANISATION = {
    "external_ref": "ORG-QZCJ",
    "name": "青州财记食品有限公司",
    "address": "山东省潍坊市青州市弥河镇工业园",
    "province": "山东",
    "city": "潍坊",
    "certificates": [{"number": "HACCP-2019-0815", "type": "HACCP", "scope": "薯类和膨化食品（脆锅巴）的生产"}],
}


def the_signal(file: str) -> Any:
    items = parse_file("food_spot_check", CORPUS / file, feed="liaoning", publisher="辽宁省市场监督管理局").items()
    [record] = [i for i in items if isinstance(i, ParsedRecord)]
    return record.signal


async def test_a_recheck_that_passed_supersedes_the_failure_until_a_decision_maker_confirms(
    platform, service_settings
) -> None:
    app = create_app(service_settings("rules"), platform)
    async with running(app, as_role("regulator")) as rules:
        assert (await rules.put("/organisations", json=ORGANISATION, headers=ADMIN)).status_code == 200
        dm, reviewer = await bearer(rules, "dm-wang", "decision_maker"), await bearer(rules, "reviewer-li", "reviewer")

        failure = _failure()
        failure = failure.model_copy(
            update={"detail": failure.detail.model_copy(update={"bulletin_no": "2019年第46期"})}
        )
        await publish(platform, Topic.SIGNAL_RECEIVED_V2, failure.subject_key, failure)
        [event] = await eventually(lambda: _events(rules), lambda e: len(e) == 1)
        url = f"/risk-events/{event['id']}"
        assert event["status"] == "open" and event["correction"] is None
        running_clocks = [c["kind"] for c in event["clocks"] if c["state"] == "running"]

        # Nothing to confirm yet.
        early = await rules.post(f"{url}/correction", json={"verdict": "confirmed", "reason": "x"}, headers=dm)
        assert early.status_code == 409 and "no correction pending" in early.json()["message"]

        correction = SignalReceivedV3(**the_signal("15_liaoning-province_food_recheck_passed.csv").model_dump())
        await publish(platform, Topic.SIGNAL_RECEIVED_V3, correction.subject_key, correction)  # type: ignore[arg-type]
        pending = await eventually(lambda: _event(rules, url), lambda e: e["correction"] is not None)
        found = pending["correction"]
        assert found["state"] == "pending" and found["signal_id"] == str(correction.signal_id)
        assert found["how"] == "recheck_passed" and found["corrects_bulletin_no"] == "2019年第46期"
        assert "复检结论：合格" in found["evidence"]
        assert found["agrees_on"] == {
            "product": "脆锅巴原味",
            "production_date": "2019-08-29",
            "bulletin_no": "2019年第46期",
        }
        # Superseded, not closed: the status and the clocks stay as they were, and no event of its own is raised.
        assert pending["status"] == "open"
        assert [c["kind"] for c in pending["clocks"] if c["state"] == "running"] == running_clocks
        [audit] = [a for a in pending["audit"] if a["action"] == "superseded_pending"]
        assert audit["actor"] == "system" and "复检结论：合格" in audit["reason"]
        await asyncio.sleep(2)
        assert [e["status"] for e in await _events(rules)] == ["open"]  # never closed by itself

        # Only a decision-maker decides it, with a reason.
        refused = await rules.post(f"{url}/correction", json={"verdict": "confirmed", "reason": "x"}, headers=reviewer)
        assert refused.status_code == 403
        assert (await rules.post(f"{url}/correction", json={"verdict": "confirmed"}, headers=dm)).status_code == 422

        confirmed = await rules.post(
            f"{url}/correction", json={"verdict": "confirmed", "reason": "复检报告已核对，撤销原不合格结论"}, headers=dm
        )
        assert confirmed.status_code == 200, confirmed.text
        closed = confirmed.json()
        assert closed["status"] == "closed" and closed["correction"]["state"] == "confirmed"
        assert closed["correction"]["decided_by"] == "dm-wang"
        assert all(c["state"] in {"void", "met", "missed"} and c["ended_by"] for c in closed["clocks"])
        # What ran until the confirmation ends with it: void (the short-notice audit of a national notice).
        assert running_clocks == ["short_notice_audit"]
        assert [(c["state"], c["ended_by"]) for c in closed["clocks"]] == [("void", "correction")]
        trail = [a["action"] for a in (await _event(rules, url))["audit"]]
        assert trail == ["raised", "superseded_pending", "correction_confirmed"]

        # The certificate is untouched: restoring or keeping it is a decision of its own.
        org = (await rules.get(f"/organisations/{event['organisation_id']}", headers=ADMIN)).json()
        assert [c["status"] for c in org["certificates"]] == ["valid"]
        assert await payloads(platform, Topic.CERTIFICATE_STATUS_CHANGED) == []
        updates = await eventually(lambda: payloads(platform, Topic.RISK_EVENT_UPDATED), lambda found: len(found) >= 2)
        assert [(u["change"], u["status"]) for u in updates] == [("superseded_pending", "open"), ("closed", "closed")]

        # A closed event takes no second verdict; the correction replayed changes nothing.
        again = await rules.post(f"{url}/correction", json={"verdict": "rejected", "reason": "x"}, headers=dm)
        assert again.status_code == 409
        await publish(platform, Topic.SIGNAL_RECEIVED_V3, correction.subject_key, correction)  # type: ignore[arg-type]
        await asyncio.sleep(2)
        assert [e["status"] for e in await _events(rules)] == ["closed"]


async def test_a_rejected_correction_leaves_the_event_as_it_was(platform, service_settings) -> None:
    app = create_app(service_settings("rules"), platform)
    async with running(app, as_role("regulator")) as rules:
        assert (await rules.put("/organisations", json=ORGANISATION, headers=ADMIN)).status_code == 200
        dm = await bearer(rules, "dm-wang", "decision_maker")
        failure = _failure()
        await publish(platform, Topic.SIGNAL_RECEIVED_V2, failure.subject_key, failure)
        [event] = await eventually(lambda: _events(rules), lambda e: len(e) == 1)
        url = f"/risk-events/{event['id']}"
        correction = SignalReceivedV3(**the_signal("15_liaoning-province_food_recheck_passed.csv").model_dump())
        await publish(platform, Topic.SIGNAL_RECEIVED_V3, correction.subject_key, correction)  # type: ignore[arg-type]
        await eventually(lambda: _event(rules, url), lambda e: e["correction"] is not None)
        rejected = await rules.post(
            f"{url}/correction", json={"verdict": "rejected", "reason": "复检样品非同一批次"}, headers=dm
        )
        assert rejected.status_code == 200, rejected.text
        body = rejected.json()
        assert (body["status"], body["correction"]["state"]) == ("open", "rejected")
        assert any(c["state"] == "running" for c in body["clocks"])


def _failure() -> SignalReceivedV2:
    """Fixture 03's row, as its page publishes it (2019年第46期), dated a few days ago and taken as a national
    notice, so that a statutory clock (the short-notice audit within 30 days) runs while it is corrected."""
    signal = SignalReceivedV2(**the_signal("03_liaoning-province_food_failed.csv").model_dump())
    detail = signal.detail.model_copy(update={"bulletin_no": "2019年第46期", "level": CheckLevel.NATIONAL})
    return signal.model_copy(update={"detail": detail, "published_on": workdays.today() - timedelta(days=3)})


async def _events(rules: Any) -> list[dict[str, Any]]:
    return await risk_events(rules)


async def _event(rules: Any, url: str) -> dict[str, Any]:
    return (await rules.get(url)).json()
