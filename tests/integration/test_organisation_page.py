"""The organisation's page (issue 15 §1) on real PostgreSQL, the broker and SMTP: the alert's signed link opens
the page; acknowledge, reply, dispute, evidence and a self-report each reach rules' audit trail (or raise an event);
bad links, bad files and repeated submits are refused or idempotent."""

from __future__ import annotations

import re
import uuid
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from services.ingest.main import create_app as ingest_app
from services.notify.main import create_app as notify_app
from services.rules.main import create_app as rules_app
from tests.support.alerts import alert_email
from tests.support.infra import ADMIN, bearer, running
from tests.support.review import risk_events
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
LINK = re.compile(r"https?://[^\s]+/o/([A-Za-z0-9._-]+)")


def _form(page: str) -> str:
    found = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


async def test_an_organisation_answers_its_alert_from_the_signed_link(
    platform, service_settings, mail_sink, tmp_path
) -> None:
    email = f"quality+{uuid.uuid4().hex[:8]}@hongyuan.example"
    notify_settings = service_settings(
        "notify", smtp_port=mail_sink.port, evidence_dir=tmp_path, evidence_max_bytes=64 * 1024,
        page_requests_per_minute=40,
    )  # fmt: skip
    async with AsyncExitStack() as stack:
        ingest = await stack.enter_async_context(running(ingest_app(service_settings("ingest"), platform)))
        rules = await stack.enter_async_context(running(rules_app(service_settings("rules"), platform), ADMIN))
        page = await stack.enter_async_context(running(notify_app(notify_settings, platform)))
        body = await alert_email(ingest, rules, mail_sink.maildir, email)
        found = LINK.search(body)
        assert found is not None, body
        token = found.group(1)
        event_id = (await rules.get("/risk-events")).json()[0]["id"]

        async def shown() -> httpx.Response:
            return await page.get(f"/o/{token}")

        opened = await eventually(shown, lambda r: r.status_code == 200 and "输出电压" in r.text)
        assert 'name="viewport"' in opened.text and "2022010703004512" in opened.text
        assert "Acknowledge" in (await page.get(f"/o/{token}?lang=en")).text

        # Acknowledge; the same form again is the same act (idempotent).
        form = {"action": "acknowledge", "idempotency_key": _form(opened.text)}
        for _ in range(2):
            sent = await page.post(f"/o/{token}/responses", data=form)
            assert sent.status_code == 303, sent.text
        # Evidence: a PDF, the corrective action marked done.
        upload = {"files": ("整改报告.pdf", PDF, "application/pdf")}
        evidence = {"idempotency_key": str(uuid.uuid4()), "done": "true", "text": "已更换供应商"}
        assert (await page.post(f"/o/{token}/evidence", data=evidence, files=upload)).status_code == 303
        assert list(tmp_path.rglob("*.pdf"))
        # Bad files: a renamed text file (checked by content), one too large, none at all.
        fake = {"files": ("report.pdf", b"not a pdf at all", "application/pdf")}
        refused = await page.post(f"/o/{token}/evidence", data={"idempotency_key": "k1"}, files=fake)
        assert refused.status_code == 415 and "PDF" in refused.text
        big = {"files": ("big.pdf", PDF + b"0" * 70_000, "application/pdf")}
        assert (await page.post(f"/o/{token}/evidence", data={"idempotency_key": "k2"}, files=big)).status_code == 413
        assert (await page.post(f"/o/{token}/evidence", data={"idempotency_key": "k3"})).status_code == 422
        # Dispute without a reason is refused; with one, the event goes back to review.
        assert (
            await page.post(f"/o/{token}/responses", data={"action": "dispute", "idempotency_key": "k4"})
        ).status_code == 422
        dispute = {"action": "dispute", "text": "这不是我们公司：我司不生产该型号", "idempotency_key": "k5"}
        assert (await page.post(f"/o/{token}/responses", data=dispute)).status_code == 303

        async def trail() -> dict[str, Any]:
            return dict((await rules.get(f"/risk-events/{event_id}")).json())

        wanted = {"organisation_acknowledged", "organisation_corrective_action_done", "organisation_disputed"}
        detail = await eventually(trail, lambda d: wanted <= {a["action"] for a in d["audit"]})
        ours = [a for a in detail["audit"] if a["action"] in wanted]
        assert len(ours) == 3 and all(a["actor"] == "组织：浙江宏远电器有限公司" for a in ours)
        done = next(a for a in ours if a["action"] == "organisation_corrective_action_done")
        assert done["detail"]["files"][0]["content_type"] == "application/pdf" and done["reason"] == "已更换供应商"
        assert detail["corrective_action"] == "awaiting_acceptance" and detail["status"] == "in_review"
        dm = await bearer(rules, "dm-wang", "decision_maker")
        accepted = await rules.post(f"/risk-events/{event_id}/corrective-action/accept", json={"reason": "证据充分"},
                                    headers=dm)  # fmt: skip
        assert accepted.status_code == 200, accepted.text
        assert (await trail())["corrective_action"] == "accepted"

        # Self-report: a signal of kind self_report raises a risk event for this organisation.
        report = {"problem": "quality_accident", "description": "自查发现一批充电器外壳过热", "product": "充电器",
                  "idempotency_key": str(uuid.uuid4())}  # fmt: skip
        assert (await page.post(f"/o/{token}/self-report", data=report)).status_code == 303

        async def events() -> list[dict[str, Any]]:
            return await risk_events(rules)

        raised = await eventually(events, lambda es: len(es) == 2)
        self_reported = next(e for e in raised if e["id"] != event_id)
        assert self_reported["match"]["method"] == "self_report" and self_reported["signal"]["feed"] == "self-report"

        # Bad links: altered, unknown short code; a clear page and 403.
        altered = await page.get(f"/o/{token[:-2]}xx")
        assert altered.status_code == 403 and "修改" in altered.text
        assert (await page.post(f"/o/{token[:-2]}xx/responses", data=form)).status_code == 403
        assert (await page.get("/o/s/nosuchcode")).status_code == 403


async def test_an_expired_link_is_refused_and_requests_are_rate_limited(platform, service_settings) -> None:
    from services.notify.organisations.links import Links
    from services.notify.organisations.service import RateLimit

    settings = service_settings("notify", page_requests_per_minute=3)
    app = notify_app(settings, platform)
    async with running(app) as page:
        runtime = app.state.runtime
        links: Links = app.state.organisation_page.links
        async with runtime.db.transaction() as session:
            issued = await links.issue(session, uuid.uuid4(), uuid.uuid4())
        token = issued.url.rsplit("/", 1)[1]
        statuses = [(await page.get(f"/o/{token}")).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        code = issued.short_url.rsplit("/", 1)[1]
        assert (await page.get(f"/o/s/{code}")).status_code == 429  # the short link counts against the same link
        app.state.organisation_page.rate = RateLimit(3)
        short = await page.get(f"/o/s/{code}")
        assert short.status_code == 303 and short.headers["location"] == f"/o/{token}"
        expired = Links(settings)
        expired.lifetime = -expired.lifetime  # every signature is already too old
        app.state.organisation_page.links = expired
        refused = await page.get(f"/o/{token}")
        assert refused.status_code == 403 and "过期" in refused.text
