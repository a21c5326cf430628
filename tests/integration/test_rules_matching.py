"""The rules service matching by name on the live registry: leads for review, verdicts remembered,
screening over HTTP, registry import from XLSX with a validation report."""

from __future__ import annotations

import csv
import io
import uuid

import openpyxl
import pytest

from services.rules.main import create_app
from shared.contracts import Envelope, Topic, deterministic_id
from shared.contracts.ingest import Party, Product, SignalKind, SignalReceived, SignalReceivedV2, Subject
from shared.kafka.producer import Producer
from tests.support.infra import ADMIN, NO_TOKEN, as_role, bearer, running
from tests.support.review import risk_events
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

HEADER = ["org_id", "name", "credit_code", "former_names", "address", "province", "city", "contact_email",
          "certificate_no", "certificate_type", "scope", "products", "applicant", "manufacturer", "factory"]  # fmt: skip
ROWS = [
    ["ORG-1", "浙江宏远电器有限公司", "", "宁波宏远家电有限公司", "浙江省宁波市鄞州区", "浙江", "宁波", "q@hy.example",
     "2022010703004512", "CCC", "电动自行车用充电器", "HY-4820A|HY-4820B", "浙江宏远电器有限公司", "浙江宏远电器有限公司",
     "宁波市鄞州区宏远电器厂"],
    ["ORG-2", "广东澄川电器制造有限公司", "", "", "广东省佛山市顺德区", "广东", "佛山", "", "Q-1", "QMS",
     "家用电冰箱的生产", "", "", "", ""],
    ["ORG-3", "", "", "", "", "", "", "", "", "", "", "", "", "", ""],
]  # fmt: skip


def registry_xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in ROWS:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def send_signal(platform, name: str, product: str | None = None, model: str | None = None) -> uuid.UUID:
    signal_id = uuid.uuid4()
    payload = SignalReceived(
        signal_id=signal_id, feed="samr", kind=SignalKind.SPOT_CHECK_FAILURE, subject=Subject(name=name),
        product=Product(name=product, model=model) if product else None,
    )  # fmt: skip
    await publish(platform, Topic.SIGNAL_RECEIVED, name, payload)
    return signal_id


async def publish(platform, topic: Topic, key: str, payload: SignalReceived | SignalReceivedV2) -> None:
    """Publish a signal as ingest would: its envelope on `topic` (v1 or v2)."""
    envelope = Envelope[type(payload)](  # type: ignore[misc]
        event_id=deterministic_id("signal-received", payload.signal_id), event_type=topic.event_type,
        producer="ingest", payload=payload,
    )  # fmt: skip
    producer = Producer(platform, "test")
    await producer.start()
    try:
        await producer.send(topic.value, key, envelope.model_dump_json().encode())
    finally:
        await producer.stop()


async def test_name_matching_verdicts_screening_and_xlsx_import(platform, service_settings) -> None:
    app = create_app(service_settings("rules"), platform)
    async with running(app, as_role("reviewer")) as rules:  # a reviewer unless a request says
        anonymous = await rules.post(
            "/organisations/import?wait=true", files={"file": ("registry.xlsx", registry_xlsx())}, headers=NO_TOKEN
        )
        assert anonymous.status_code == 401 and "bearer token" in anonymous.json()["message"]
        files = {"file": ("registry.xlsx", registry_xlsx())}
        report = (await rules.post("/organisations/import?wait=true", files=files, headers=ADMIN)).json()
        assert (report["created"], report["rejected_rows"]) == (2, 1)
        assert {(p["row"], p["field"]) for p in report["problems"]} == {(4, "name")}

        # A bulletin names the producer without a code: matched by name, in scope by model.
        await send_signal(platform, "宏远电器（浙江）有限责任公司", "电动自行车用充电器", "HY-4820A")
        # A branch of the same company: a lead for review only.
        await send_signal(platform, "浙江宏远电器有限公司宁波分公司", "电动自行车用充电器")
        # Same 字号 in another province, and a workshop that shares it: nobody.
        await send_signal(platform, "江苏宏远电器有限公司", "充电器")
        await send_signal(platform, "宁波市北仑区宏远电器经营部", "充电器")

        async def events() -> list[dict]:
            return await risk_events(rules)

        raised = await eventually(events, lambda e: len(e) == 2)
        by_method = {e["match"]["method"]: e for e in raised}
        name_match = by_method["name:name"]
        assert name_match["match"]["decision"] == "match" and name_match["match"]["product_in_scope"] is True
        assert "same 字号+行业 '宏远电器'" in name_match["match"]["explanation"]
        assert by_method["branch"]["match"]["decision"] == "review"

        reviewer = await bearer(rules, "reviewer-li", "reviewer")
        rejected = await rules.post(
            f"/risk-events/{by_method['branch']['id']}/match-verdict",
            json={"verdict": "rejected", "reason": "the branch is a separate licensee"},
            headers=reviewer,
        )
        assert rejected.status_code == 200 and rejected.json()["status"] == "closed"
        bad = await rules.post(
            f"/risk-events/{name_match['id']}/match-verdict", json={"verdict": "maybe"}, headers=reviewer
        )
        assert bad.status_code == 422

        again = (await rules.post("/screening/match", json={"name": "浙江宏远电器有限公司宁波分公司"})).json()
        assert again and again[0]["decision"] == "none" and "never matched again" in again[0]["explanation"]

        upload = "record_id,name,credit_code,address\n1,浙江宏远电器有限公司,,\n2,广东宏远电器有限公司,,\n3,,,\n"
        response = await rules.post("/screening", files={"file": ("in.csv", upload.encode())})
        assert response.status_code == 200
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [(r["record_id"], r["decision"]) for r in rows] == [("1", "match"), ("2", "none"), ("3", "none")]
        missing = await rules.post("/screening", files={"file": ("in.csv", b"id,company\n1,x\n")})
        assert missing.status_code == 422 and "record_id" in missing.json()["message"]


async def send_v2(platform, parties: list[Party]) -> uuid.UUID:
    signal_id = uuid.uuid4()
    payload = SignalReceivedV2(
        signal_id=signal_id, feed="samr", kind=SignalKind.FOOD_SPOT_CHECK_FAILURE,
        subject=Subject(**parties[0].model_dump(exclude={"role_label", "origin"})), parties=parties,
    )  # fmt: skip
    await publish(platform, Topic.SIGNAL_RECEIVED_V2, parties[0].name, payload)
    return signal_id


async def test_every_party_of_a_bulletin_row_is_matched_and_each_event_names_its_role(
    platform, service_settings
) -> None:
    """委托方：X；受委托方：Y with both certified: two events, each saying which role the organisation had."""
    app = create_app(service_settings("rules"), platform)
    async with running(app, as_role("reviewer")) as rules:
        report = (
            await rules.post(
                "/organisations/import?wait=true", files={"file": ("r.xlsx", registry_xlsx())}, headers=ADMIN
            )
        ).json()
        assert report["created"] == 2
        signal_id = await send_v2(
            platform,
            [
                Party(name="浙江宏远电器有限公司", role="entrusting", role_label="委托方"),
                Party(
                    name="广东澄川电器制造有限公司",
                    role="entrusted",
                    role_label="受委托方",
                    address="广东省佛山市顺德区",
                ),
                Party(name="上海某某贸易有限公司", role="distributor", role_label="经销商"),
            ],
        )

        async def events() -> list[dict]:
            return [e for e in await risk_events(rules) if e["signal_id"] == str(signal_id)]

        raised = await eventually(events, lambda e: len(e) == 2)
        by_role = {e["match"]["party"]["role_label"]: e for e in raised}
        assert set(by_role) == {"委托方", "受委托方"}
        assert by_role["受委托方"]["title"].endswith("广东澄川电器制造有限公司（受委托方）")
        assert by_role["受委托方"]["match"]["explanation"].startswith(
            "受委托方 (contract manufacturer)「广东澄川电器制造有限公司」"
        )
        assert "角色：委托方" in by_role["委托方"]["summary"]
        # words, not enum values (shared/labels.py): 信号：食品抽检不合格, never 信号：food_spot_check_failure
        summary = by_role["委托方"]["summary"]
        assert "信号：食品抽检不合格" in summary and "建议措施：暂停" in summary and "_" not in summary.split("（")[0]

        # A v1 signal (published before v2) still raises, its subject the only party.
        await send_signal(platform, "宏远电器（浙江）有限责任公司", "电动自行车用充电器", "HY-4820A")
        everything = await eventually(lambda: risk_events(rules), lambda es: len(es) == 3)
        v1 = [e for e in everything if e["signal_id"] != str(signal_id)]
        assert v1 and v1[0]["match"]["party"] is None
