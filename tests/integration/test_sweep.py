"""The campaign sweep on real PostgreSQL and broker, ingest and rules both running: it screens the registry
against the signals ingest stores and the lists in force, raises the events the nightly flow would have
raised and only those missing, a second sweep raises nothing, the ranking explains itself, and the
campaign report opens as XLSX with its sections."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

import httpx
import openpyxl
import pytest

from services.ingest.main import create_app as create_ingest
from services.rules.main import create_app as create_rules
from services.rules.sweep import repository, service
from services.rules.sweep.report import LOCAL, SHEETS
from tests.support.infra import ADMIN, as_role, running
from tests.support.review import risk_events
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

TODAY = datetime.now(LOCAL).date()  # the report counts days in Asia/Shanghai, as the bulletins date them
HONGYUAN = {
    "external_ref": "ORG-S1", "name": "浙江宏远电器有限公司", "credit_code": "91330212PDY0010123",
    "address": "浙江省宁波市鄞州区", "province": "浙江", "city": "宁波",
    "certificates": [
        {"number": "2022010703004512", "type": "CCC", "scope": "电动自行车用充电器", "products": ["HY-4820A"]},
        {"number": "Q-S1", "type": "QMS", "scope": "电动自行车用充电器的生产"},
    ],
}  # fmt: skip
CHENGCHUAN = {
    "external_ref": "ORG-S2", "name": "广东澄川电器制造有限公司", "address": "广东省佛山市顺德区",
    "province": "广东", "city": "佛山", "certificates": [{"number": "Q-S2", "type": "QMS", "scope": "家用电冰箱的生产"}],
}  # fmt: skip
RUIZE = {
    "external_ref": "ORG-S3", "name": "东莞市瑞泽五金制品有限公司", "credit_code": "91441900PDY001055F",
    "province": "广东", "city": "东莞", "certificates": [{"number": "E-S3", "type": "EMS", "scope": "五金制品的生产"}],
}  # fmt: skip


def ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


def signal(kind: str, name: str, published: str | None = None, **fields: Any) -> dict[str, Any]:
    subject = {"name": name, **({"credit_code": fields.pop("credit_code")} if "credit_code" in fields else {})}
    return {"feed": fields.pop("feed", "samr"), "kind": kind, "subject": subject, "published_on": published, **fields}


SIGNALS = {
    "nightly": signal("spot_check_failure", "浙江宏远电器有限公司", ago(100), product={"name": "电动自行车用充电器",
                      "model": "HY-4820A"}, detail={"bulletin_no": "2026年第11号", "level": "national"}),
    "missed": signal("spot_check_failure", "广东澄川电器制造有限公司", ago(400), product={"name": "家用电冰箱"}),
    "listed": signal("serious_illegal_listed", "浙江宏远电器有限公司", None, credit_code="91330212PDY0010123",
                     feed="gsxt-serious", detail={"listed_on": ago(30), "reason": "提供虚假材料"}),
    "abnormal": signal("abnormal_operation_listed", "广东澄川电器制造有限公司", None, feed="gsxt-abnormal",
                       detail={"listed_on": ago(200), "reason": "未按规定报送年度报告"}),
    "removed": signal("abnormal_operation_removed", "广东澄川电器制造有限公司", None, feed="gsxt-abnormal",
                      detail={"removed_on": ago(150)}),
    "ccc": signal("ccc_suspended", "宁波某某贸易有限公司", ago(20), feed="ccc-status",
                  detail={"certificate_no": "2022010703004512", "status": "暂停"}),
    "too_old": signal("spot_check_failure", "浙江宏远电器有限公司", ago(5 * 365)),
    "nobody": signal("spot_check_failure", "某某贸易商行", ago(10)),
}  # fmt: skip


async def test_a_sweep_raises_what_is_missing_ranks_with_reasons_and_reports(platform, service_settings) -> None:
    ingest_app = create_ingest(service_settings("ingest"), platform)
    rules_app = create_rules(service_settings("rules", run_consumers=False), platform)  # no nightly flow: the
    async with running(ingest_app) as ingest, running(rules_app, as_role("regulator")) as rules:  # sweep catches up
        rules_app.state.sweep_ingest = ingest
        for org in (HONGYUAN, CHENGCHUAN, RUIZE):
            assert (await rules.put("/organisations", json=org, headers=ADMIN)).status_code == 200
        ids = {}
        for name, body in SIGNALS.items():
            posted = await ingest.post("/signals", json=body, headers=as_role("feed"))
            assert posted.status_code == 201, posted.text
            ids[name] = posted.json()["signal_id"]
        # The nightly flow raised the first one; the others never reached rules.
        stored = (await ingest.get(f"/signals/{ids['nightly']}", headers=as_role("feed"))).json()
        assert (await rules.post("/replay/apply", json={"signals": [stored]}, headers=ADMIN)).json()["raised"] == 1

        refused = await rules.post("/sweeps", json={}, headers=as_role("reviewer"))
        assert refused.status_code == 403 and "decision_maker" in refused.json()["message"]
        async with rules_app.state.runtime.db.transaction() as session:  # one queued elsewhere: one at a time
            queued = await service.create(session, "dm-elsewhere", TODAY, "3y")
        busy = await rules.post("/sweeps", json={}, headers=as_role("decision_maker"))
        assert busy.status_code == 409 and "dm-elsewhere" in busy.json()["message"]
        async with rules_app.state.runtime.db.transaction() as session:
            await repository.set_fields(session, queued.id, status="failed", active=None)
        assert (await rules.post("/sweeps", json={"window": "3 years"}, headers=ADMIN)).status_code == 422
        first = await _sweep(rules)
        assert first["status"] == "succeeded", first["error"]
        assert (first["organisations"], first["certificates"]) == (3, 4)
        assert first["signals"] == len(SIGNALS) - 1  # all but the one older than the window
        assert first["signals_read"] == len(SIGNALS)
        # missed, listed, abnormal: what the nightly flow would have raised; the removal, later than the listing
        # it corrects, links to it (superseded, pending confirmation) instead of raising an event of its own
        assert first["events_raised"] == 3
        assert first["organisations_hit"] == 2 and first["hits"] == 6
        assert first["ruleset_version"].endswith("+campaign-risk@1") and first["seconds"] > 0
        events = (await rules.get("/risk-events", params={"limit": 100})).json()
        assert len(events) == 4
        abnormal = [e for e in await risk_events(rules, limit=100) if e["signal_kind"] == "abnormal_operation_listed"]
        assert [e["correction"]["state"] for e in abnormal] == ["pending"]

        second = await _sweep(rules)
        assert second["status"] == "succeeded" and second["events_raised"] == 0 and second["hits"] == 6
        assert len((await rules.get("/risk-events", params={"limit": 100})).json()) == 4  # nothing twice

        ranking = (await rules.get(f"/sweeps/{second['id']}/ranking")).json()
        assert [r["organisation"] for r in ranking] == ["浙江宏远电器有限公司", "广东澄川电器制造有限公司"]
        top = ranking[0]
        assert top["band"] == "high" and top["in_force"] == ["ccc:2022010703004512", "serious_illegal"]
        texts = [r["text"] for r in top["reasons"]]
        assert any(t.startswith("列入严重违法失信名单") and "严重程度严重 40 分" in t for t in texts)
        assert any(t.startswith("产品质量监督抽查不合格") and "认证范围内产品 × 1.5" in t for t in texts)
        assert any("CCC证书 2022010703004512：截至" in t and "仍失效未恢复 +25 分" in t for t in texts)
        assert any("有效证书类型 CCC：× 1.3" in t for t in texts)
        assert texts[-1] == f"合计 {top['score']:g} 分（campaign-risk 第 1 版）"
        lifted = ranking[1]
        assert lifted["in_force"] == [] and any("已移出或恢复" in r["text"] for r in lifted["reasons"])
        one = await rules.get(f"/sweeps/{second['id']}/organisations/{top['organisation_id']}")
        assert one.status_code == 200 and one.json()["rank"] == 1
        ruize = (await rules.get("/organisations", params={"name": "瑞泽"})).json()[0]
        assert (await rules.get(f"/sweeps/{second['id']}/organisations/{ruize['id']}")).status_code == 404

        # A decision, so the report has an action and a timeliness figure.
        missed = next(e for e in events if e["signal_id"] == ids["missed"])
        decision = {"measure": "special_audit", "reason": "抽查不合格，安排专项监督审核"}
        decided = await rules.post(
            f"/risk-events/{missed['id']}/decision", json=decision, headers=as_role("decision_maker")
        )
        assert decided.status_code == 200, decided.text
        await _report(rules, second["id"])


async def _sweep(rules: httpx.AsyncClient) -> dict[str, Any]:
    started = await rules.post("/sweeps", json={"window": "3y"}, headers=as_role("decision_maker"))
    assert started.status_code == 202, started.text
    assert started.headers["location"] == f"/sweeps/{started.json()['id']}"
    url = started.headers["location"]

    async def status() -> dict[str, Any]:
        return (await rules.get(url)).json()  # type: ignore[no-any-return]

    return await eventually(status, lambda s: s["status"] not in ("queued", "running"))


async def _report(rules: httpx.AsyncClient, sweep_id: str) -> None:
    report = (await rules.get(f"/sweeps/{sweep_id}/report")).json()
    assert set(report) == {"sweep", "scope", "hits", "actions", "cases", "timeliness", "annex"}
    scope = report["scope"]
    assert (scope["organisations"], scope["certificates"]) == (3, 4)
    assert {t["type"] for t in scope["by_certificate_type"]} == {"CCC", "QMS", "EMS"}
    assert {p["province"]: p["organisations"] for p in scope["by_province"]} == {"广东": 2, "浙江": 1}
    assert {s["feed"] for s in scope["sources"]} == {"samr", "gsxt-serious", "gsxt-abnormal", "ccc-status"}
    hits = {h["kind"]: h for h in report["hits"]}
    assert hits["spot_check_failure"]["label"] == "产品质量监督抽查不合格"
    assert (hits["spot_check_failure"]["signals"], hits["spot_check_failure"]["by_name"]) == (2, 2)
    assert hits["serious_illegal_listed"]["by_code"] == 1
    assert hits["ccc_suspended"]["by_certificate_no"] == 1 and hits["ccc_suspended"]["certificates"] == 2
    actions = report["actions"]
    assert actions["by_measure"] == [{"measure": "special_audit", "label": "专项审核", "decisions": 1,
                                      "certificates": 0}]  # fmt: skip
    assert actions["events"] == 4 and actions["still_open"] == 3
    categories = {(c["category_label"], c["signal_label"]) for c in report["cases"]["rows"]}
    assert ("重大问题", "产品质量监督抽查不合格") in categories and ("涉嫌违规", "列入严重违法失信名单") in categories
    assert ("重大问题", "CCC证书暂停") in categories
    timeliness = report["timeliness"]
    assert timeliness["decided"] == 1 and timeliness["max_days_to_decision"] == 400 and timeliness["over_limit"] == 1
    assert report["annex"]["total"] == 3  # every certificate of the two organisations hit

    xlsx = await rules.get(f"/sweeps/{sweep_id}/report", params={"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True)
    assert book.sheetnames == list(SHEETS)
    cells = {name: [c for row in book[name].iter_rows(values_only=True) for c in row if c] for name in SHEETS}
    assert "排查获证组织数" in cells[SHEETS[0]] and "gsxt-abnormal" in cells[SHEETS[0]]
    assert "产品质量监督抽查不合格" in cells[SHEETS[1]] and "专项审核" in cells[SHEETS[2]]
    assert (
        "重大问题" in cells[SHEETS[3]] and "涉嫌违规" in cells[SHEETS[3]] and "浙江宏远电器有限公司" in cells[SHEETS[3]]
    )
    assert "超过期限决定" in cells[SHEETS[4]] and "2022010703004512" in cells[SHEETS[5]]
    assert "高风险" in cells[SHEETS[6]]
