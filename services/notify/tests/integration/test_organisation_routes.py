"""The organisation page's routes over HTTP, in process, on notify alone (real PostgreSQL and broker, no rules):
what the page shows in zh-CN and English, what each form's refusal looks like (a page with the words, the status,
a way back), that a refusal escapes what the organisation typed, and that a refused link is logged by its first
characters only."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.notify.main import create_app
from services.notify.organisations import service
from shared.contracts.rules import (
    CertificateRef,
    CertificateStatus,
    Clock,
    ClockKind,
    ClockState,
    ClockUnit,
    LegalBasis,
    Measure,
)
from tests.support.events import risk_event_raised
from tests.support.infra import running

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"


class Page:
    def __init__(self, client: httpx.AsyncClient, token: str, event_id: uuid.UUID) -> None:
        self.client, self.token, self.event_id = client, token, event_id

    async def key(self) -> str:
        found = re.search(r'name="idempotency_key" value="([^"]+)"', (await self.client.get(f"/o/{self.token}")).text)
        assert found is not None
        return found.group(1)


@pytest.fixture
async def page(platform: Any, service_settings: Any, tmp_path: Path) -> AsyncIterator[Page]:
    settings = service_settings(
        "notify",
        evidence_dir=tmp_path,
        evidence_max_bytes=4096,
        link_secret="test-key",
        page_requests_per_minute=100,
        contact_desk="认证监督部 400-000-0000",
    )
    app = create_app(settings, platform)
    async with running(app) as client:
        basis = LegalBasis(document="认证机构管理办法", article="第二十一条", requirement="暂停后 5 个工作日内报告")
        clock = Clock(
            clock_id=uuid.uuid4(),
            kind=ClockKind.SUSPENSION,
            basis=basis,
            starts_on=date(2026, 12, 1),
            length=5,
            unit=ClockUnit.WORKING_DAYS,
            due_on=date(2026, 12, 8),
            state=ClockState.RUNNING,
        )
        event = risk_event_raised(
            "电热水壶抽查不合格",
            summary="不合格项目：泄漏电流<script>",
            recommended_measure=Measure.CORRECTIVE_ACTION,
            decision_due=date(2026, 12, 18),
            clocks=[clock],
            certificates=[
                CertificateRef(
                    certificate_id=uuid.uuid4(), number="2022010703004512", type="CCC", status=CertificateStatus.VALID
                )
            ],
        )
        async with app.state.runtime.db.transaction() as session:
            await service.keep_raised(session, [event])
            issued = await app.state.organisation_page.links.issue(session, event.organisation_id, event.risk_event_id)
        yield Page(client, issued.url.rsplit("/", 1)[1], event.risk_event_id)


async def test_the_page_says_what_was_found_what_is_asked_and_by_when_in_either_language(page: Page) -> None:
    zh = await page.client.get(f"/o/{page.token}")
    assert zh.status_code == 200 and zh.headers["cache-control"] == "no-store"
    for shown in (
        "电热水壶抽查不合格",
        "要求限期整改",
        "2026-12-18",
        "认证机构管理办法 第二十一条",
        "2026-12-08",
        "2022010703004512 (CCC, valid)",
        "认证监督部 400-000-0000",
        "产品监督抽查不合格",
    ):
        assert shown in zh.text, shown
    en = await page.client.get(f"/o/{page.token}", params={"lang": "en"})
    assert "Recommended measure" in en.text and "corrective action" in en.text and "Due by" in en.text
    assert len(set(re.findall(r'name="idempotency_key" value="([^"]+)"', zh.text))) == 5  # one key per form


async def test_an_act_goes_back_to_the_page_which_lists_it(page: Page) -> None:
    sent = await page.client.post(
        f"/o/{page.token}/responses",
        data={"action": "reply", "text": "复检合格，见报告", "idempotency_key": await page.key(), "lang": "en"},
    )
    assert sent.status_code == 303 and sent.headers["location"] == f"/o/{page.token}?lang=en&done=1"
    shown = await page.client.get(sent.headers["location"])
    assert "Received, thank you." in shown.text and "replied: 复检合格，见报告" in shown.text


REFUSALS: list[tuple[str, dict[str, str], list[Any] | None, int, str]] = [
    ("responses", {"action": "delete_everything"}, None, 422, "请填写说明或理由"),
    ("responses", {"action": "reply", "text": "  "}, None, 422, "请填写说明或理由"),
    ("responses", {"action": "acknowledge", "idempotency_key": ""}, None, 422, "表单已失效"),
    ("evidence", {}, None, 422, "请选择要上传的文件"),
    ("evidence", {}, [("files", ("big.pdf", PDF + b"0" * 5000, "application/pdf"))], 413, "每个文件不超过 1 MB"),
    ("evidence", {}, [("files", ("x.pdf", b"MZ\x90\x00exe", "application/pdf"))], 415, "x.pdf"),
    ("evidence", {}, [("files", (f"{n}.pdf", PDF, "application/pdf")) for n in range(11)], 422, "最多上传 10 个"),
    ("self-report", {"problem": "quality_accident", "description": ""}, None, 422, "请填写情况说明"),
    ("self-report", {"problem": "tax", "description": "x"}, None, 422, "请选择问题类型"),
    (
        "self-report",
        {"problem": "quality_accident", "description": "x", "occurred_on": "2026/11/28"},
        None,
        422,
        "YYYY-MM-DD",
    ),
]


async def test_a_refused_form_is_a_page_saying_why_with_its_status_and_a_way_back(page: Page) -> None:
    for path, form, files, status, says in REFUSALS:  # one app for all of them: each start costs seconds
        data = {"idempotency_key": await page.key(), **form}
        refused = await page.client.post(f"/o/{page.token}/{path}", data=data, files=files)
        assert refused.status_code == status, (path, form, refused.text)
        assert refused.headers["content-type"].startswith("text/html") and says in refused.text, (path, form)
        assert f'href="/o/{page.token}"' in refused.text
    history = await page.client.get(f"/o/{page.token}")
    assert 'id="history"' not in history.text  # nothing refused was recorded


async def test_what_a_bulletin_says_is_escaped_on_the_page(page: Page) -> None:
    shown = await page.client.get(f"/o/{page.token}")
    assert "&lt;script&gt;" in shown.text and "<script>" not in shown.text


async def test_a_refused_file_name_is_escaped_on_the_page(page: Page) -> None:
    files = {"files": ("<img src=x onerror=alert(1)>.pdf", b"not a pdf", "application/pdf")}
    refused = await page.client.post(f"/o/{page.token}/evidence", data={"idempotency_key": "k"}, files=files)
    assert refused.status_code == 415 and "<img src=x" not in refused.text and "&lt;img" in refused.text


async def test_a_forged_link_is_a_403_page_logged_by_its_first_characters_only(page: Page, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="services.notify")
    forged = page.token[:-4] + ("AAAA" if not page.token.endswith("AAAA") else "BBBB")
    for lang, says in (("zh-CN", "该链接无效或已被修改"), ("en", "not valid or was altered")):
        refused = await page.client.get(f"/o/{forged}", params={"lang": lang})
        assert refused.status_code == 403 and says in refused.text
    lines = [r.getMessage() for r in caplog.records if "link refused" in r.getMessage()]
    assert len(lines) == 2 and all(forged[:8] in line and forged not in line for line in lines)
    posted = await page.client.post(f"/o/{forged}/self-report", data={"problem": "licence_lost", "description": "x"})
    assert posted.status_code == 403


async def test_a_query_parameter_out_of_bounds_is_a_json_422(page: Page) -> None:
    wrong = await page.client.get(f"/o/{page.token}", params={"lang": "x" * 11})
    assert wrong.status_code == 422 and wrong.headers["content-type"].startswith("application/json")
