"""Stored signals replayed through the current rules: a dry run says what would be raised and what is
raised already, and writes nothing; applying it (administrators) raises only what is missing."""

from __future__ import annotations

import uuid

import pytest

from services.rules.main import create_app
from shared.contracts.ingest import Product, SignalKind, SignalReceived, Subject
from tests.integration.test_review_decisions import ORGANISATION
from tests.integration.test_rules_matching import send_signal
from tests.support.infra import ADMIN, as_role, bearer, running
from tests.support.review import risk_events
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def signal(name: str, kind: SignalKind = SignalKind.SPOT_CHECK_FAILURE) -> dict[str, object]:
    stored = SignalReceived(
        signal_id=uuid.uuid4(), feed="samr", kind=kind, subject=Subject(name=name),
        product=Product(name="电动自行车用充电器", model="HY-4820A"),
    )  # fmt: skip
    return stored.model_dump(mode="json")


async def test_replay_says_what_the_rules_would_raise_and_raises_only_what_is_missing(
    platform, service_settings
) -> None:
    async with running(create_app(service_settings("rules"), platform), as_role("reviewer")) as rules:
        assert (await rules.put("/organisations", json=ORGANISATION, headers=ADMIN)).status_code == 200
        sent = await send_signal(platform, "浙江宏远电器有限公司", "电动自行车用充电器", "HY-4820A")
        await eventually(lambda: _count(rules), lambda n: n == 1)
        [raised] = await risk_events(rules)
        assert raised["signal_id"] == str(sent)

        # The signal that was screened (as ingest stores it), one that never reached rules, one naming nobody.
        screened = dict(raised["signal"])
        missed, nobody = signal("浙江宏远电器有限公司"), signal("某某贸易商行")
        body = {"signals": [screened, missed, nobody]}

        dry = (await rules.post("/replay", json=body)).json()
        assert (dry["signals"], dry["would_raise"], dry["already_raised"]) == (3, 1, 1)
        by_signal = {f["signal_id"]: f for f in dry["findings"]}
        assert by_signal[str(sent)]["already_raised"] is True
        assert by_signal[missed["signal_id"]]["already_raised"] is False
        assert by_signal[missed["signal_id"]]["organisation_name"] == "浙江宏远电器有限公司"
        assert nobody["signal_id"] not in by_signal
        assert await _count(rules) == 1  # a dry run writes nothing

        refused = await rules.post("/replay/apply", json=body, headers=await bearer(rules, "dm-wang", "decision_maker"))
        assert refused.status_code == 403
        applied = (await rules.post("/replay/apply", json=body, headers=ADMIN)).json()
        assert applied == {"signals": 3, "raised": 1}
        assert await _count(rules) == 2
        assert (await rules.post("/replay/apply", json=body, headers=ADMIN)).json()["raised"] == 0  # never twice
        bad = await rules.post("/replay", json={"signals": [{"signal_id": "x"}]})
        assert bad.status_code == 422


async def _count(rules) -> int:  # type: ignore[no-untyped-def]
    return len((await rules.get("/risk-events")).json())
