"""The organisation's page in a real browser (Debian's Chromium, driven by Playwright), as an organisation
meets it: a spot-check failure raises a risk event, its alert arrives in the mail sink, the link in the email
opens the page on a phone-sized screen, the organisation acknowledges and uploads a PDF as corrective-action
evidence, and rules' audit trail shows both under the organisation's name (issue 15 §1)."""

from __future__ import annotations

import re
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from certwatch.stack.processes import free_port
from services.ingest.main import create_app as ingest_app
from services.notify.main import create_app as notify_app
from services.rules.main import create_app as rules_app
from tests.e2e.test_dashboard import CHROMIUM_ARGS, chromium  # noqa: F401  (the fixture)
from tests.support.alerts import alert_email
from tests.support.infra import ADMIN, running
from tests.support.serving import served
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PHONE = {"width": 390, "height": 844}


async def test_an_organisation_opens_its_alert_acknowledges_and_uploads_evidence_in_a_browser(
    chromium: str,  # noqa: F811
    platform,
    service_settings,
    mail_sink,
    tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright

    email = f"quality+{uuid.uuid4().hex[:8]}@hongyuan.example"
    port = free_port()
    notify_settings = service_settings(
        "notify", smtp_port=mail_sink.port, evidence_dir=tmp_path / "evidence", page_url=f"http://127.0.0.1:{port}"
    )
    async with AsyncExitStack() as stack:
        ingest = await stack.enter_async_context(running(ingest_app(service_settings("ingest"), platform)))
        rules = await stack.enter_async_context(running(rules_app(service_settings("rules"), platform), ADMIN))
        await stack.enter_async_context(served(notify_app(notify_settings, platform), port))
        body = await alert_email(ingest, rules, mail_sink.maildir, email)
        link = re.search(rf"http://127\.0\.0\.1:{port}/o/[A-Za-z0-9._-]+", body)
        assert link is not None, body
        event_id = (await rules.get("/risk-events")).json()[0]["id"]
        evidence = tmp_path / "整改报告.pdf"
        evidence.write_bytes(PDF)

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport=PHONE, locale="zh-CN")

                async def opened() -> str:  # the page says "details on their way" until the event reaches notify
                    await page.goto(link.group(0))
                    return await page.inner_text("body")

                text = await eventually(opened, lambda t: "输出电压" in t)
                assert "浙江宏远电器有限公司" in text and "2022010703004512" in text  # the certificate concerned
                assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # fits a phone

                await page.click("#acknowledge-button")
                await page.wait_for_url(re.compile(r"done=1"))
                assert await page.locator("#thanks").count() == 1

                await page.set_input_files("#evidence-files", str(evidence))
                await page.fill("#evidence textarea[name=text]", "已更换充电器供应商并复检合格")
                await page.check("#evidence input[name=done]")
                await page.click("#evidence-button")
                await page.wait_for_url(re.compile(r"done=1"))
            finally:
                await browser.close()

        async def trail() -> dict[str, Any]:
            return dict((await rules.get(f"/risk-events/{event_id}")).json())

        wanted = {"organisation_acknowledged", "organisation_corrective_action_done"}
        detail = await eventually(trail, lambda d: wanted <= {a["action"] for a in d["audit"]})
        ours = {a["action"]: a for a in detail["audit"] if a["action"] in wanted}
        assert {a["actor"] for a in ours.values()} == {"组织：浙江宏远电器有限公司"}
        done = ours["organisation_corrective_action_done"]
        assert done["reason"] == "已更换充电器供应商并复检合格"
        assert [f["content_type"] for f in done["detail"]["files"]] == ["application/pdf"]
        assert detail["corrective_action"] == "awaiting_acceptance"
        stored = list((tmp_path / "evidence").rglob("*"))
        assert any(p.is_file() and p.read_bytes() == PDF for p in stored)
