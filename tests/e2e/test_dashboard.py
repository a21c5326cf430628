"""The reporting dashboard in a real browser (Debian's Chromium, driven by Playwright): figures and charts for
a period, the period form, and the regulator's report downloaded from the page."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest
import uvicorn
from fastapi import FastAPI

from services.reporting import service
from services.reporting.main import create_app
from shared.contracts.ingest import SignalKind
from shared.contracts.rules import (
    CertificateRef,
    CertificateStatus,
    CertificateStatusChanged,
    Measure,
    RiskEventRaised,
    RiskEventStatus,
    RiskEventUpdated,
    Severity,
)
from shared.db.session import Database
from tests.support.events import risk_event_raised
from tests.support.infra import as_role

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"  # Debian's (make test installs it); never a downloaded browser
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip


def _raised(name: str, severity: Severity, kind: SignalKind, province: str) -> RiskEventRaised:
    return risk_event_raised(
        name, organisation_name=name, signal_kind=kind, severity=severity, recommended_measure=Measure.SUSPEND,
        decision_due=date.today() + timedelta(days=5), province=province,
        certificates=[CertificateRef(certificate_id=uuid.uuid4(), number=f"C-{name}", type="CCC",
                                     status=CertificateStatus.VALID)],
    )  # fmt: skip


async def seed(db: Database) -> None:
    """Three events raised today, one of them decided (suspend) with its certificate suspended, through the
    same projections the consumers run."""
    events = [
        _raised("浙江宏远电器有限公司", Severity.HIGH, SignalKind.SPOT_CHECK_FAILURE, "浙江"),
        _raised("广东澄川电器制造有限公司", Severity.HIGH, SignalKind.SPOT_CHECK_FAILURE, "广东"),
        _raised("宁波凌岳线缆有限公司", Severity.CRITICAL, SignalKind.SERIOUS_ILLEGAL_LISTED, "浙江"),
    ]
    first = events[0]
    async with db.transaction() as session:
        for event in events:
            await service.risk_event_raised(session, event)
        await service.risk_event_updated(session, RiskEventUpdated(
            risk_event_id=first.risk_event_id, organisation_id=first.organisation_id, status=RiskEventStatus.DECIDED,
            severity=Severity.HIGH, change="decided", decision=Measure.SUSPEND, actor="dm-wang", reason="抽查不合格",
            updated_at=datetime.now(UTC),
        ))  # fmt: skip
        await service.certificate_status_changed(session, CertificateStatusChanged(
            certificate_id=first.certificates[0].certificate_id, organisation_id=first.organisation_id,
            number=first.certificates[0].number, type="CCC", old_status=CertificateStatus.VALID,
            new_status=CertificateStatus.SUSPENDED, effective_on=date.today(), until=date.today() + timedelta(days=60),
            reason="抽查不合格", risk_event_id=first.risk_event_id, decided_by="dm-wang",
        ))  # fmt: skip


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real port (a browser needs one), lifespan and all."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(600):
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started, "the reporting service did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def chromium() -> str:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs it")
    return CHROMIUM


async def test_the_dashboard_shows_the_period_and_downloads_the_report(
    chromium: str, platform, service_settings, tmp_path
) -> None:
    from playwright.async_api import async_playwright

    settings = service_settings("reporting")
    db = Database(settings)
    try:
        await seed(db)
    finally:
        await db.dispose()
    async with served(create_app(settings, platform)) as base, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            # The regulator's token on every request the page makes, downloads included (a proxy's job in production).
            page = await browser.new_page(accept_downloads=True, extra_http_headers=as_role("regulator"))
            await page.goto(f"{base}/dashboard")
            assert await page.title() == "certwatch — compliance dashboard"

            async def tile(key: str) -> str:
                return (await page.inner_text(f'[data-tile="{key}"] .value')).strip()

            assert [await tile(k) for k in ("raised", "decided", "suspended", "withdrawn", "overdue")] == [
                "3", "1", "1", "0", "0",
            ]  # fmt: skip
            severity = page.locator('[data-chart="Risk events by severity"]')
            assert await severity.locator("rect.bar").count() == 2
            assert [t.strip() for t in await severity.locator("text.count").all_text_contents()] == [
                "2",
                "1",
            ]  # widest first
            provinces = page.locator('[data-chart="Risk events by province"] rect.bar title')
            assert sorted(await provinces.all_text_contents()) == ["广东: 1", "浙江: 2"]

            # The report the page links to is the period's, downloaded as the browser does it.
            async with page.expect_download() as download_info:
                await page.click("#export-xlsx")
            download = await download_info.value
            saved = tmp_path / download.suggested_filename
            await download.save_as(saved)
            assert saved.name == f"certwatch-report-{date.today() - timedelta(days=29)}-{date.today()}.xlsx"
            book = openpyxl.load_workbook(saved)
            assert book["Risk events raised"].max_row == 4 and book["Certificate measures"].max_row == 2

            # Another period through the form: nothing was raised last month.
            month_ago = date.today() - timedelta(days=40)
            await page.fill('input[name="start"]', (month_ago - timedelta(days=10)).isoformat())
            await page.fill('input[name="end"]', month_ago.isoformat())
            await page.click('#period button[type="submit"]')
            await page.wait_for_url(f"**/dashboard?start=*&end={month_ago.isoformat()}")
            assert await tile("raised") == "0"
            assert await page.locator("p.empty").count() == 6  # every chart says it has nothing
            assert month_ago.isoformat() in await page.inner_text("h1")
        finally:
            await browser.close()
