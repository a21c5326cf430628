"""One authentication for every service (issue 12 item 6): personal data masked for roles that do not need it,
tokens made and revoked in rules honoured by the other services, and the checks off only in development."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

import pytest

from services.ingest.main import create_app as ingest_app
from services.rules.access.models import ApiToken
from services.rules.main import create_app as rules_app
from shared.auth import AuthSettings, digest
from shared.db.session import Database
from tests.support.infra import ADMIN, as_role, bearer, running
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

ORGANISATION = {
    "external_ref": "ORG-PII",
    "name": "浙江宏远电器有限公司",
    "contacts": [{"name": "王建国", "email": "wang.jianguo@hongyuan.example", "mobile": "13800138000"}],
}


async def test_contacts_are_shown_to_staff_and_masked_for_the_regulator(platform, service_settings) -> None:
    async with running(rules_app(service_settings("rules"), platform)) as rules:
        org_id = (await rules.put("/organisations", json=ORGANISATION, headers=ADMIN)).json()["id"]
        for role in ("reviewer", "decision_maker", "administrator"):
            [contact] = (await rules.get(f"/organisations/{org_id}", headers=as_role(role))).json()["contacts"]
            assert (contact["name"], contact["email"], contact["mobile"]) == (
                "王建国", "wang.jianguo@hongyuan.example", "13800138000"
            ), role  # fmt: skip
        for path in (f"/organisations/{org_id}", "/organisations"):
            body = (await rules.get(path, headers=as_role("regulator"))).json()
            [contact] = (body[0] if isinstance(body, list) else body)["contacts"]
            assert (contact["name"], contact["email"], contact["mobile"]) == (
                "王**",
                "w***@hongyuan.example",
                "138****8000",
            )


async def test_a_token_made_in_rules_works_in_ingest_and_stops_when_revoked(platform, service_settings) -> None:
    async with (
        running(rules_app(service_settings("rules"), platform), ADMIN) as rules,
        running(ingest_app(service_settings("ingest"), platform)) as ingest,
    ):
        made = (await rules.post("/tokens", json={"name": "samr-feed", "role": "feed"})).json()
        feeder = {"Authorization": f"Bearer {made['token']}"}

        async def status() -> int:
            return (await ingest.get("/feed-runs", headers=feeder)).status_code

        assert await eventually(status, lambda s: s == 200) == 200  # its copy arrived (rules.api-token-changed.v1)
        assert (await rules.get("/risk-events", headers=feeder)).status_code == 403  # a feed reads no risk events
        assert (await rules.delete(f"/tokens/{made['id']}")).status_code == 200
        assert (await rules.get("/risk-events", headers=feeder)).status_code == 401  # at once in rules
        assert await eventually(status, lambda s: s == 401) == 401  # and in ingest once the revocation arrives
        regulator = await bearer(rules, "samr-observer", "regulator")
        assert await eventually(lambda: ingest.get("/signals", headers=regulator), lambda r: r.status_code == 200)


async def test_checks_are_off_only_in_development(platform, service_settings, monkeypatch) -> None:
    async with running(ingest_app(service_settings("ingest", auth_off_for_development=True), platform)) as ingest:
        assert (await ingest.get("/feed-runs")).status_code == 200  # no token needed
        wrong = await ingest.get("/feed-runs", headers={"Authorization": "Bearer not-a-token"})
        assert wrong.status_code == 401  # a token that is sent is still checked
    monkeypatch.setenv("CERTWATCH_ENVIRONMENT", "production")
    with pytest.raises(ValueError, match="CERTWATCH_AUTH_OFF_FOR_DEVELOPMENT is refused"):
        AuthSettings(auth_off_for_development=True)
    with pytest.raises(ValueError, match="not name:role:sha256hex"):
        AuthSettings(api_tokens="feeder:feed:not-a-hash")


async def test_a_token_whose_change_was_never_published_reaches_the_other_services(platform, service_settings) -> None:
    """A token row with no event in the outbox (made before changes were published, or restored from a
    backup) is published when rules starts, so ingest honours it too."""
    settings = service_settings("rules")
    async with running(rules_app(settings, platform)):
        pass  # rules' schema exists
    token = secrets.token_urlsafe(16)
    row = ApiToken(id=uuid.uuid4(), name="legacy-feed", role="feed", token_hash=digest(token), created_by="admin",
                   created_at=datetime.now(UTC))  # fmt: skip
    db = Database(settings)
    try:
        async with db.transaction() as session:
            session.add(row)
    finally:
        await db.dispose()
    async with (
        running(rules_app(settings, platform)),
        running(ingest_app(service_settings("ingest"), platform)) as ingest,
    ):
        feeder = {"Authorization": f"Bearer {token}"}
        assert await eventually(lambda: ingest.get("/feed-runs", headers=feeder), lambda r: r.status_code == 200)
