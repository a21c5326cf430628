"""The dashboard's login over HTTP, in process (real PostgreSQL and broker, no browser): the form's CSRF check, a
wrong token and a role that may not read refused on the login page, the session cookie's flags, where it leads
(never to another site), what the cookie opens (the pages, never the JSON API), and the logout's own CSRF check."""

from __future__ import annotations

import re

import httpx
import pytest

from services.reporting import sessions
from services.reporting.endpoints import _local
from services.reporting.main import create_app
from shared.auth import Role
from tests.support.infra import NO_TOKEN, ROLE_TOKENS, running

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("asked", "goes"),
    [
        (None, "/dashboard"),
        ("", "/dashboard"),
        ("/dashboard/events?kind=recall", "/dashboard/events?kind=recall"),
        ("https://evil.example/dashboard", "/dashboard"),
        ("//evil.example/dashboard", "/dashboard"),
        ("/dashboard//evil.example", "/dashboard"),
        ("/dashboard\\..\\admin", "/dashboard"),
        ("/summary", "/dashboard"),
    ],
)
def test_after_logging_in_only_the_dashboards_own_pages(asked: str | None, goes: str) -> None:
    assert _local(asked) == goes


async def _form(client: httpx.AsyncClient, next_page: str = "/dashboard") -> str:
    page = await client.get("/login", params={"next": next_page}, headers=NO_TOKEN)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None and client.cookies.get(sessions.LOGIN_COOKIE) == found.group(1)
    return found.group(1)


async def test_logging_in_checks_the_form_the_token_and_its_role(platform, service_settings) -> None:
    async with running(create_app(service_settings("reporting"), platform)) as client:
        # a form that is not this page's own: no nonce cookie, another nonce, another origin
        csrf = await _form(client)
        good = {"token": ROLE_TOKENS[Role.REGULATOR], "csrf": csrf}
        forged = await client.post("/login", data={**good, "csrf": "guessed"}, headers=NO_TOKEN)
        assert forged.status_code == 400 and "登录表单已过期" in forged.text
        csrf = await _form(client)
        elsewhere = await client.post(
            "/login", data={**good, "csrf": csrf}, headers={**NO_TOKEN, "Origin": "https://evil.example"}
        )
        assert elsewhere.status_code == 400
        client.cookies.delete(sessions.LOGIN_COOKIE)
        assert (await client.post("/login", data={**good, "csrf": csrf}, headers=NO_TOKEN)).status_code == 400

        csrf = await _form(client)
        unknown = await client.post("/login", data={"token": "nobody's", "csrf": csrf}, headers=NO_TOKEN)
        assert unknown.status_code == 401 and "令牌无效或已被撤销" in unknown.text
        csrf = await _form(client)
        feed = await client.post("/login", data={"token": ROLE_TOKENS[Role.FEED], "csrf": csrf}, headers=NO_TOKEN)
        assert feed.status_code == 403 and "无权查看看板" in feed.text
        assert sessions.SESSION_COOKIE not in client.cookies


async def test_a_session_opens_the_pages_never_the_api_and_ends_at_logout(platform, service_settings) -> None:
    settings = service_settings("reporting")
    async with running(create_app(settings, platform)) as client:
        csrf = await _form(client, "https://evil.example/")
        form = {"token": ROLE_TOKENS[Role.REGULATOR], "csrf": csrf, "next": "https://evil.example/"}
        logged_in = await client.post("/login", data=form, headers=NO_TOKEN)
        assert logged_in.status_code == 303 and logged_in.headers["location"] == "/dashboard"
        cookie = next(v for k, v in logged_in.headers.multi_items() if k == "set-cookie" and "certwatch_session=" in v)
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert f"Max-Age={sessions.SESSION_HOURS * 3600}" in cookie and "Secure" not in cookie  # http here
        value = client.cookies.get(sessions.SESSION_COOKIE)
        assert value is not None and ROLE_TOKENS[Role.REGULATOR] not in value

        page = await client.get("/dashboard", headers=NO_TOKEN)
        assert page.status_code == 200 and "<svg" in page.text
        assert (await client.get("/summary", headers=NO_TOKEN)).status_code == 401  # the JSON API: bearer only
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)  # the logout form, bound to this session
        assert found is not None and found.group(1) == sessions.logout_token(sessions.key(settings), value)

        refused = await client.post("/logout", data={"csrf": "not-the-pages"}, headers=NO_TOKEN)
        assert refused.status_code == 400 and client.cookies.get(sessions.SESSION_COOKIE) == value
        out = await client.post("/logout", data={"csrf": found.group(1)}, headers=NO_TOKEN)
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert sessions.SESSION_COOKIE not in client.cookies
        again = await client.get("/dashboard", headers={**NO_TOKEN, "Accept": "text/html"})
        assert again.status_code == 303 and again.headers["location"].startswith("/login?next=")


async def test_a_tampered_or_foreign_cookie_opens_nothing(platform, service_settings) -> None:
    async with running(create_app(service_settings("reporting"), platform)) as client:
        foreign = sessions.make(b"another-process-key".ljust(32, b"0"), ROLE_TOKENS[Role.REGULATOR])
        for value in (foreign, "garbage", foreign.split(".")[0] + ".AAAA"):
            client.cookies.set(sessions.SESSION_COOKIE, value)
            shown = await client.get("/dashboard", headers={**NO_TOKEN, "Accept": "text/html"})
            assert shown.status_code == 303, value
