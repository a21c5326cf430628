"""One signal through all four services on real PostgreSQL, the real broker and a real SMTP server."""

from __future__ import annotations

import csv
import io
import uuid
from contextlib import AsyncExitStack
from datetime import datetime, timedelta

import openpyxl
import pytest

from certwatch.mailsink import read_mail
from services.ingest.main import create_app as ingest_app
from services.notify.main import create_app as notify_app
from services.reporting.main import create_app as reporting_app
from services.reporting.service import LOCAL
from services.rules.main import create_app as rules_app
from shared import workdays
from tests.support.infra import ADMIN, as_role, bearer, running
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

CODE = "91330212PDY0010123"


def registry_csv(email: str) -> bytes:
    header = "org_id,name,credit_code,address,province,city,contact_name,contact_email,contact_mobile,certificate_no,certificate_type,scope,products,certificate_status\n"
    rows = [
        f"ORG-001,浙江宏远电器有限公司,{CODE},浙江省宁波市鄞州区姜山镇,浙江,宁波,王经理,{email},13800138000,2022010703004512,CCC,电动自行车用充电器,HY-4820A|HY-4820B,有效\n",
        f"ORG-001,浙江宏远电器有限公司,{CODE},浙江省宁波市鄞州区姜山镇,浙江,宁波,王经理,{email},13800138000,00124Q20001R1S,QMS,电动自行车充电器的设计和生产,,有效\n",
        "ORG-002,佛山市顺德区澄川电器制造有限公司,91440606PDY001020P,广东省佛山市顺德区,广东,佛山,,,,2021010701002233,CCC,家用电冰箱,BCD-215WD,有效\n",
    ]
    return (header + "".join(rows)).encode()


async def test_a_spot_check_failure_raises_a_risk_event_emails_the_organisation_and_is_counted(
    platform, service_settings, mail_sink
) -> None:
    email = f"quality+{uuid.uuid4().hex[:8]}@hongyuan.example"
    async with AsyncExitStack() as stack:
        ingest = await stack.enter_async_context(running(ingest_app(service_settings("ingest"), platform)))
        rules = await stack.enter_async_context(running(rules_app(service_settings("rules"), platform), ADMIN))
        await stack.enter_async_context(
            running(notify_app(service_settings("notify", smtp_port=mail_sink.port), platform))
        )
        reporting = await stack.enter_async_context(
            running(reporting_app(service_settings("reporting"), platform), as_role("regulator"))
        )
        # A feed writer's token made in rules works in ingest once its copy arrives (rules.api-token-changed.v1).
        feeder = await bearer(rules, "samr-feed", "feed")

        async def feeds_status() -> int:
            return (await ingest.get("/feeds", headers=feeder)).status_code

        assert await eventually(feeds_status, lambda status: status == 200) == 200

        files = {"file": ("registry.csv", registry_csv(email))}
        report = await rules.post("/organisations/import?wait=true", files=files, headers=ADMIN)
        assert report.status_code == 200, report.text
        assert report.json()["created"] == 2 and report.json()["problems"] == []

        posted = await ingest.post(
            "/signals",
            json={
                "feed": "samr-national",
                "kind": "spot_check_failure",
                "subject": {"name": "浙江宏远电器有限公司", "credit_code": CODE},
                "product": {"name": "电动自行车用充电器", "model": "HY-4820A"},
                "detail": {"bulletin_no": "市场监管总局2024年第11号", "failed_items": [{"item": "输出电压"}]},
            },
            headers=feeder,
        )
        assert posted.status_code == 201, posted.text

        async def count() -> int:
            return int((await reporting.get("/risk-events/count")).json()["risk_events_raised"])

        assert await eventually(count, lambda n: n == 1) == 1
        listed = await rules.get("/risk-events")
        events = listed.json()
        assert len(events) == 1
        event = events[0]
        assert event["severity"] == "high" and event["recommended_measure"] == "suspend"  # CCC held: suspend
        assert event["match"] == {"score": 1.0, "decision": "match", "method": "credit_code"}
        assert event["organisation_name"] == "浙江宏远电器有限公司"
        # A list gives summaries (a page of 50 is a few KB); the evidence and the explanation are in the detail.
        assert "signal" not in event and "summary" not in event and len(listed.content) < 1000
        detail = (await rules.get(f"/risk-events/{event['id']}")).json()
        assert detail["signal"]["subject"]["credit_code"] and detail["match"]["explanation"]
        assert [a["action"] for a in detail["audit"]] == ["raised"]

        async def mails() -> list:
            return [m for m in read_mail(mail_sink.maildir) if m["To"] == email]

        received = await eventually(mails, lambda ms: len(ms) == 1)
        message = received[0]
        assert "浙江宏远电器有限公司" in message["Subject"]
        body = message.get_body(("plain",)).get_content()
        assert "输出电压" in body and "2022010703004512" in body

        summary = (await reporting.get("/summary")).json()
        assert summary["organisations_screened"] == 2
        assert summary["risk_events_by_severity"] == {"high": 1}

        # A decision-maker suspends the CCC certificate: the organisation is told, the regulator's figures count it.
        until = (workdays.today() + timedelta(days=60)).isoformat()
        decided = await rules.post(
            f"/risk-events/{event['id']}/decision",
            json={"measure": "suspend", "reason": "抽查不合格，暂停CCC证书",
                  "suspended_until": until, "certificates": ["2022010703004512"]},
            headers=await bearer(rules, "dm-wang", "decision_maker"),
        )  # fmt: skip
        assert decided.status_code == 200, decided.text
        notices = await eventually(mails, lambda ms: len(ms) == 2)
        notice = next(m for m in notices if "认证决定通知" in m["Subject"])
        assert "2022010703004512" in notice["Subject"] and "暂停" in notice["Subject"]
        assert f"暂停期限至 {until}" in notice.get_body(("plain",)).get_content()

        async def measures() -> dict:
            return dict((await reporting.get("/summary")).json().get("measures_taken") or {})

        assert await eventually(measures, lambda m: m.get("suspended") == 1) == {"suspended": 1}

        # The regulator's report for the period: the event raised, the decision, the suspended certificate.
        today = datetime.now(LOCAL).date().isoformat()  # the report's days are Shanghai's, as the dashboard's
        summary_json = (await reporting.get("/reports/regulator", params={"format": "json"})).json()
        counts = {(row["section"], row["item"]): row["count"] for row in summary_json["summary"]}
        assert counts[("risk events raised", "all")] == 1 and counts[("decided by measure", "suspend")] == 1
        assert counts[("certificates by new status", "suspended")] == 1
        xlsx = await reporting.get("/reports/regulator", params={"start": today, "end": today})
        assert (
            xlsx.status_code == 200 and f"certwatch-report-{today}-{today}.xlsx" in xlsx.headers["content-disposition"]
        )
        book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
        assert book.sheetnames == [
            "Summary",
            "Risk events raised",
            "Decisions",
            "Certificate measures",
            "Past deadline",
            "Timeliness",
        ]
        measures = list(book["Certificate measures"].iter_rows(values_only=True))
        assert measures[0][:6] == ("effective_on", "organisation_name", "certificate_number", "certificate_type",
                                   "old_status", "new_status")  # fmt: skip
        assert measures[1][1:6] == ("浙江宏远电器有限公司", "2022010703004512", "CCC", "valid", "suspended")
        decided_rows = list(book["Decisions"].iter_rows(values_only=True))
        assert decided_rows[1][9:12][0] == "suspend" and decided_rows[1][11] == "dm-wang"
        rows = list(csv.DictReader(io.StringIO((await reporting.get(
            "/reports/regulator", params={"format": "csv"})).content.decode("utf-8-sig"))))  # fmt: skip
        assert [(r["organisation_name"], r["decision"], r["severity"]) for r in rows] == [
            ("浙江宏远电器有限公司", "suspend", "high")
        ]
        yesterday = (datetime.now(LOCAL).date() - timedelta(days=1)).isoformat()
        empty = (await reporting.get("/reports/regulator", params={"end": yesterday, "format": "csv"})).content
        assert empty.decode("utf-8-sig").count("\n") == 1  # the header only: nothing was raised before today
        backwards = await reporting.get("/reports/regulator", params={"start": today, "end": yesterday})
        assert backwards.status_code == 422 and "is after end" in backwards.json()["message"]
