"""The reporting dashboard in a real browser (Debian's Chromium, driven by Playwright): logging in through the
login page (a token entered once, then a session cookie), figures and charts for a period in zh-CN (and English
on request), the trend charts, the drill-down from a chart's segment to the events behind it, to one event and to
its organisation, the period form, the regulator's report downloaded from the page, and logging out. The cookie
opens the pages only, never the JSON API; a revoked token ends its sessions; the forms refuse a request that did
not come from them. With CERTWATCH_SCREENSHOT=1 it saves the dashboard to docs/dashboard.png."""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from services.reporting import service, sessions
from services.reporting.main import create_app
from services.reporting.service import LOCAL
from shared import workdays
from shared.auth import TOKENS, Role, digest
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
from tests.support.infra import ROLE_TOKENS, running
from tests.support.serving import served

pytestmark = pytest.mark.integration

SCREENSHOT = Path(__file__).parents[2] / "docs" / "dashboard.png"
CHROMIUM = "/usr/bin/chromium"  # Debian's (make test installs it); never a downloaded browser
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip


def _raised(name: str, severity: Severity, kind: SignalKind, province: str, days_ago: int = 0) -> RiskEventRaised:
    return risk_event_raised(
        name, organisation_name=name, signal_kind=kind, severity=severity, recommended_measure=Measure.SUSPEND,
        decision_due=workdays.today() + timedelta(days=5 - days_ago), province=province,
        raised_at=datetime.now(UTC) - timedelta(days=days_ago),
        certificates=[CertificateRef(certificate_id=uuid.uuid4(), number=f"C-{name}", type="CCC",
                                     status=CertificateStatus.VALID)],
    )  # fmt: skip


async def seed(db: Database) -> None:
    """Three events raised today, one of them decided (suspend) with its certificate suspended, and a few in
    the months before (the trends), through the same projections the consumers run."""
    events = [
        _raised("浙江宏远电器有限公司", Severity.HIGH, SignalKind.SPOT_CHECK_FAILURE, "浙江"),
        _raised("广东澄川电器制造有限公司", Severity.HIGH, SignalKind.SPOT_CHECK_FAILURE, "广东"),
        _raised("宁波凌岳线缆有限公司", Severity.CRITICAL, SignalKind.SERIOUS_ILLEGAL_LISTED, "浙江"),
    ]
    earlier = [
        _raised(f"历史企业{i}有限公司", Severity.MEDIUM, kind, "江苏", days_ago=days)
        for i, (kind, days) in enumerate([(SignalKind.FOOD_SPOT_CHECK_FAILURE, 60), (SignalKind.RECALL, 90),
                                          (SignalKind.FOOD_SPOT_CHECK_FAILURE, 200), (SignalKind.RECALL, 300)])
    ]  # fmt: skip
    first = events[0]
    async with db.transaction() as session:
        for event in events + earlier:
            await service.risk_event_raised(session, event)
        await service.risk_event_updated(session, RiskEventUpdated(
            risk_event_id=first.risk_event_id, organisation_id=first.organisation_id, status=RiskEventStatus.DECIDED,
            severity=Severity.HIGH, change="decided", decision=Measure.SUSPEND, actor="dm-wang", reason="抽查不合格",
            updated_at=datetime.now(UTC),
        ))  # fmt: skip
        await service.certificate_status_changed(session, CertificateStatusChanged(
            certificate_id=first.certificates[0].certificate_id, organisation_id=first.organisation_id,
            number=first.certificates[0].number, type="CCC", old_status=CertificateStatus.VALID,
            new_status=CertificateStatus.SUSPENDED, effective_on=workdays.today(), until=workdays.today() + timedelta(days=60),
            reason="抽查不合格", risk_event_id=first.risk_event_id, decided_by="dm-wang",
        ))  # fmt: skip


async def log_in(page: Any, base: str, role: Role = Role.REGULATOR) -> None:
    """As a person does it: the dashboard sends a browser with no session to the login page; the token is
    entered once, and the page asked for opens."""
    await page.goto(f"{base}/dashboard")
    await page.wait_for_url("**/login?next=*")
    await page.fill('#login input[name="token"]', ROLE_TOKENS[role])
    await page.click('#login button[type="submit"]')
    await page.wait_for_url(f"{base}/dashboard")


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
            # The regulator logs in through the page; the cookie opens every page, downloads included.
            page = await browser.new_page(accept_downloads=True)
            await log_in(page, base)
            assert await page.title() == "certwatch 合规监测看板"  # zh-CN unless asked

            async def tile(key: str) -> str:
                return (await page.inner_text(f'[data-tile="{key}"] .value')).strip()

            assert [await tile(k) for k in ("raised", "decided", "suspended", "withdrawn", "overdue")] == [
                "3", "1", "1", "0", "4",  # the four earlier events are past their deadline
            ]  # fmt: skip
            severity = page.locator('[data-chart="by_severity"]')
            assert await severity.locator("rect.bar").count() == 2
            assert [t.strip() for t in await severity.locator("text.count").all_text_contents()] == [
                "2",
                "1",
            ]  # widest first
            provinces = page.locator('[data-chart="by_province"] rect.bar title')
            assert sorted(await provinces.all_text_contents()) == ["广东: 1", "浙江: 2"]

            # The report the page links to is the period's, downloaded as the browser does it.
            async with page.expect_download() as download_info:
                await page.click("#export-xlsx")
            download = await download_info.value
            saved = tmp_path / download.suggested_filename
            await download.save_as(saved)
            today = datetime.now(LOCAL).date()  # the dashboard's period ends on Asia/Shanghai's today
            assert saved.name == f"certwatch-report-{today - timedelta(days=29)}-{today}.xlsx"
            book = openpyxl.load_workbook(saved)
            assert book["Risk events raised"].max_row == 4 and book["Certificate measures"].max_row == 2

            # Another period through the form: nothing was raised last month.
            month_ago = workdays.today() - timedelta(days=40)
            await page.fill('input[name="start"]', (month_ago - timedelta(days=10)).isoformat())
            await page.fill('input[name="end"]', month_ago.isoformat())
            await page.click('#period button[type="submit"]')
            await page.wait_for_url(f"**/dashboard?start=*&end={month_ago.isoformat()}")
            assert await tile("raised") == "0"
            assert await page.locator(".charts p.empty").count() == 5  # every chart of the period says it has nothing
            assert f"{month_ago.year}年{month_ago.month}月{month_ago.day}日" in await page.inner_text(
                "h1"
            )  # a local date
        finally:
            await browser.close()


async def test_the_dashboard_speaks_chinese_and_drills_down_from_a_trend_to_an_event_and_its_organisation(
    chromium: str, platform, service_settings
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
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            await log_in(page, base)
            # human words, never the stored values
            weekly = page.locator('[data-chart="weekly"]')
            assert "产品质量监督抽查不合格" in await weekly.locator(".legend").inner_text()
            assert "食品抽检不合格" in await weekly.locator(".legend").inner_text()
            assert "spot_check_failure" not in await page.inner_text("body")
            # the trend has data: a segment per (week, kind) with events: two this week, four before
            assert await weekly.locator("a.segment rect").count() == 6
            rows = await weekly.locator("table.chart-table tr").count()
            assert rows == 53  # the header and 52 weeks, behind the chart on request
            assert await page.locator('[data-chart="backlog"] polyline').count() == 2
            if os.environ.get("CERTWATCH_SCREENSHOT"):
                await page.screenshot(path=str(SCREENSHOT), full_page=True)

            # this week's spot-check failures: the segment, the list behind it, one event, its organisation
            segment = weekly.locator("a.segment", has=page.locator("title", has_text="产品质量监督抽查不合格")).last
            await segment.click()
            await page.wait_for_url("**/dashboard/events?kind=spot_check_failure&week=*")
            listed = page.locator("table.events tr[data-event]")
            assert await listed.count() == 2
            names = await page.locator("table.events a.organisation-link").all_text_contents()
            assert sorted(names) == ["广东澄川电器制造有限公司", "浙江宏远电器有限公司"]
            await page.locator("tr[data-event]", has_text="浙江宏远电器有限公司").locator("a.event-link").click()
            await page.wait_for_url("**/dashboard/events/*")
            assert "暂停" in await page.inner_text("#event")  # the decision, in words
            assert await page.inner_text("#match") != ""
            assert "C-浙江宏远电器有限公司" in await page.inner_text("#measures")
            await page.click("#organisation")
            await page.wait_for_url("**/dashboard/organisations/*")
            assert await page.inner_text("#organisation-name") == "浙江宏远电器有限公司"
            assert await page.locator("table.events tr[data-event]").count() == 1

            # the language switch, remembered in a cookie
            await page.click("#language")
            assert "Risk events" in await page.inner_text("body")
            await page.goto(f"{base}/dashboard")
            assert await page.title() == "certwatch — compliance dashboard"
            assert "failed a product quality spot check" in await page.inner_text('[data-chart="weekly"] .legend')
        finally:
            await browser.close()


async def test_logging_in_and_out_in_the_browser(chromium: str, platform, service_settings) -> None:
    """The session cookie is HttpOnly and SameSite=Strict (not Secure over plain http), opens the pages but not
    the JSON API, ends at logout; a wrong token and a role that may not read stay on the login page, saying why."""
    from playwright.async_api import async_playwright

    settings = service_settings("reporting")
    async with served(create_app(settings, platform)) as base, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{base}/dashboard/events?kind=recall")
            await page.wait_for_url("**/login?next=*")
            await page.fill('#login input[name="token"]', "not-a-token-of-anyone")
            await page.click('#login button[type="submit"]')
            assert await page.inner_text("#login-error") == "令牌无效或已被撤销。"
            await page.fill('#login input[name="token"]', ROLE_TOKENS[Role.FEED])  # a feed reads no dashboard
            await page.click('#login button[type="submit"]')
            assert await page.inner_text("#login-error") == "该令牌的角色无权查看看板。"
            await page.fill('#login input[name="token"]', ROLE_TOKENS[Role.DECISION_MAKER])
            await page.click('#login button[type="submit"]')
            await page.wait_for_url(f"{base}/dashboard/events?kind=recall")  # the page first asked for

            cookie = next(c for c in await page.context.cookies() if c["name"] == sessions.SESSION_COOKIE)
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
            assert ROLE_TOKENS[Role.DECISION_MAKER] not in cookie["value"]  # the token never goes into the cookie
            assert (await page.request.get(f"{base}/dashboard")).status == 200
            assert (await page.request.get(f"{base}/summary")).status == 401  # the API wants the bearer token
            assert (await page.request.get(f"{base}/reports/regulator?format=json")).status == 401

            await page.click("#logout button")
            await page.wait_for_url("**/login")
            await page.goto(f"{base}/dashboard")
            await page.wait_for_url("**/login?next=*")  # the session is over
        finally:
            await browser.close()


async def test_a_revoked_token_ends_its_sessions_and_the_forms_refuse_other_origins(platform, service_settings) -> None:
    settings = service_settings("reporting")
    token, token_id = f"li-{uuid.uuid4().hex}", uuid.uuid4()
    db = Database(settings)
    try:
        async with db.transaction() as session:
            await session.execute(TOKENS.insert().values(id=token_id, name="li-regulator", role="regulator",
                                                         token_hash=digest(token), created_by="admin"))  # fmt: skip
    finally:
        await db.dispose()
    async with running(create_app(settings, platform)) as client:
        html = {"Accept": "text/html"}
        form = await client.get("/login")
        csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
        # another site's page posting the form is refused, even with the right nonce
        crossed = await client.post(
            "/login", data={"token": token, "csrf": csrf}, headers={"Origin": "https://evil.example"}
        )
        assert crossed.status_code == 400 and sessions.SESSION_COOKIE not in crossed.cookies
        nonce_less = await client.post("/login", data={"token": token, "csrf": "guessed"})
        assert nonce_less.status_code == 400
        form = await client.get("/login")
        csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
        logged_in = await client.post("/login", data={"token": token, "csrf": csrf, "next": "https://evil.example/x"})
        assert logged_in.status_code == 303 and logged_in.headers["location"] == "/dashboard"  # never off-site
        assert (await client.get("/dashboard", headers=html)).status_code == 200
        refused = await client.post("/logout", data={"csrf": "guessed"})
        assert refused.status_code == 400
        assert (await client.get("/dashboard", headers=html)).status_code == 200  # still logged in

        db = Database(settings)
        try:
            async with db.transaction() as session:
                await session.execute(
                    TOKENS.update().where(TOKENS.c.id == token_id).values(revoked_at=datetime.now(UTC))
                )
        finally:
            await db.dispose()
        gone = await client.get("/dashboard", headers=html)
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login?next=")
        assert (await client.get("/dashboard")).status_code == 401  # not a browser: the 401 with its reason
