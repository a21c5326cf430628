"""Self-reported risk events (an organisation reporting its own problem, 自查自纠上报): reporting counts risk events
whose signal kind is `self_report`, or whose match method is (rules raises a self-report from the organisation's
page under the rule of the problem named), apart in its summary, dashboard and regulator's report. The kind is read as a
word, so it works before any producer publishes it: here the test publishes such an event itself, on the v1 and
v2 topics as rules does, beside an ordinary one."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.reporting.main import create_app as reporting_app
from shared import workdays
from shared.contracts import Topic
from shared.kafka.dlq import read_dlq
from tests.contract.test_contracts import EXAMPLES
from tests.integration.test_consumer_loop import send
from tests.support.infra import as_role, running
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def _envelope(topic: Topic, risk_event_id: uuid.UUID, kind: str, method: str = "credit_code") -> bytes:
    payload: dict[str, Any] = json.loads(EXAMPLES[topic].model_dump_json())
    payload |= {"risk_event_id": str(risk_event_id), "signal_kind": kind, "raised_at": datetime.now(UTC).isoformat()}
    payload["match"] |= {"method": method}
    envelope = {"event_id": str(uuid.uuid4()), "event_type": topic.event_type, "producer": "rules",
                "occurred_at": datetime.now(UTC).isoformat(), "payload": payload}  # fmt: skip
    return json.dumps(envelope).encode()


async def test_self_reported_events_are_counted_apart(platform, service_settings) -> None:
    app = reporting_app(service_settings("reporting"), platform)
    mine, theirs, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with running(app, as_role("regulator")) as client:
        for topic in (Topic.RISK_EVENT_RAISED, Topic.RISK_EVENT_RAISED_V2):
            await send(platform, topic.value, _envelope(topic, mine, "self_report"),
                       _envelope(topic, other, "spot_check_failure"))  # fmt: skip
            # As rules raises a self-report from the organisation's page: under the rule of the problem named,
            # the match's method saying who reported it.
            await send(platform, topic.value, _envelope(topic, theirs, "quality_accident", method="self_report"))

        async def summary() -> dict[str, Any]:
            return (await client.get("/summary")).json()  # type: ignore[no-any-return]

        counted = await eventually(summary, lambda s: s["risk_events_raised"] == 3)
        assert counted["risk_events_self_reported"] == 2
        assert counted["risk_events_by_kind"] == {"self_report": 2, "spot_check_failure": 1}

        page = (await client.get("/dashboard")).text
        tile = re.search(r'data-tile="self_reported">.*?<div class="value">(\d+)</div><div>([^<]+)</div>', page, re.S)
        assert tile is not None and tile.groups() == ("2", "自查自纠上报")
        english = (await client.get("/dashboard?lang=en")).text
        assert "Self-reported" in english and "self report" not in english  # a word, never the stored value
        listed = (await client.get("/dashboard/events?kind=self_report")).text
        assert listed.count("data-event=") == 2

        today = workdays.today().isoformat()
        report = (await client.get(f"/reports/regulator?format=json&start={today}&end={today}")).json()
        rows = {(r["section"], r["item"]): r["count"] for r in report["summary"]}
        assert rows[("risk events raised", "all")] == 3
        assert rows[("risk events self-reported", "self_report")] == 2
    # the v2 twin (read for its clocks) too: nothing dead-lettered for a kind this build's enums do not know
    for topic in (Topic.RISK_EVENT_RAISED, Topic.RISK_EVENT_RAISED_V2):
        assert await read_dlq(platform, topic.value, timeout_ms=500) == []
