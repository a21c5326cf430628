"""ingest's HTTP edge: bad input gets a specific 4xx and publishes nothing; re-deliveries are dropped."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from services.ingest.main import create_app
from services.ingest.models import messaging
from tests.support.infra import as_role, running

pytestmark = pytest.mark.integration

SIGNAL = {
    "feed": "samr-national",
    "kind": "spot_check_failure",
    "subject": {"name": "浙江宏远电器有限公司", "credit_code": "91330212PDY0010123", "province": "浙江"},
    "product": {"name": "电动自行车用充电器", "model": "HY-4820A"},
    "detail": {"bulletin_no": "市场监管总局2024年第11号", "failed_items": [{"item": "输出电压"}]},
    "published_on": "2024-06-18",
}


async def outbox_rows(app) -> int:
    async with app.state.runtime.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(messaging.outbox)))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**SIGNAL, "kind": "weather_report"}, "kind"),
        ({**SIGNAL, "subject": {"name": "   "}}, "name"),
        ({**SIGNAL, "subject": {}}, "name"),
        ({**SIGNAL, "published_on": "2024-02-30"}, "published_on"),
        ({**SIGNAL, "surprise": 1}, "surprise"),
        ({**SIGNAL, "feed": "\u0000"}, "body.feed"),  # PostgreSQL cannot store NUL: was a 500
    ],
)
async def test_a_malformed_signal_gets_a_422_naming_the_problem_and_nothing_is_published(
    body, field, platform, service_settings
) -> None:
    app = create_app(service_settings("ingest"), platform)
    async with running(app, as_role("feed")) as client:
        response = await client.post("/signals", json=body)
        assert response.status_code == 422
        assert field in response.text
        assert await outbox_rows(app) == 0


async def test_a_signal_is_accepted_once_and_its_redelivery_is_not_published_again(platform, service_settings) -> None:
    app = create_app(service_settings("ingest"), platform)
    async with running(app, as_role("feed")) as client:
        first = await client.post("/signals", json=SIGNAL)
        again = await client.post("/signals", json=SIGNAL)
        assert first.status_code == 201 and again.status_code == 200
        assert first.json()["signal_id"] == again.json()["signal_id"]
        assert again.json()["duplicate"] is True
        assert first.json()["credit_code_status"] == "valid"
        assert await outbox_rows(app) == 1
        stored = await client.get(f"/signals/{first.json()['signal_id']}")
        assert stored.json()["subject"]["credit_code"] == "91330212PDY0010123"
        second = await client.post("/signals", json={**SIGNAL, "subject": {"name": "广东澄川电器制造有限公司"}})
        ids = [first.json()["signal_id"], second.json()["signal_id"]]
        since = (await client.get("/signals", params={"since": "2000-01-01T00:00:00Z"})).json()
        assert [s["signal_id"] for s in since] == ids  # for a replay: oldest first
        newest = (await client.get("/signals")).json()
        assert [s["signal_id"] for s in newest] == ids[::-1]
        assert (await client.get("/signals", params={"since": "2999-01-01T00:00:00Z"})).json() == []
        assert (await client.get("/signals", params={"since": "yesterday"})).status_code == 422
        assert (await client.get("/signals", params={"since": "0.5"})).status_code == 422  # no epoch seconds
        assert len((await client.get("/signals", params={"since": "2000-01-01"})).json()) == 2  # a day is midnight


async def test_an_invalid_credit_code_is_kept_as_evidence_but_flagged(platform, service_settings) -> None:
    app = create_app(service_settings("ingest"), platform)
    body = {**SIGNAL, "subject": {"name": "浙江宏远电器有限公司", "credit_code": "91330212PDY0010124"}}
    async with running(app, as_role("feed")) as client:
        response = await client.post("/signals", json=body)
        assert response.status_code == 201
        assert response.json()["credit_code_status"] == "invalid"
        assert response.json()["subject_key"] == "浙江宏远电器有限公司"


async def test_unknown_signal_is_a_404_with_a_message(platform, service_settings) -> None:
    app = create_app(service_settings("ingest"), platform)
    async with running(app, as_role("feed")) as client:
        response = await client.get("/signals/00000000-0000-0000-0000-000000000000")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/files", {"kind": "spot_check", "feed": "Not A Feed!"}, "feed"),  # was an unhandled ValidationError (500)
        ("/signals", {"offset": "15787035998082899968"}, "offset"),  # overflowed int64 in asyncpg (500)
    ],
)
async def test_out_of_range_parameters_get_a_422_naming_them(path, params, field, platform, service_settings) -> None:
    app = create_app(service_settings("ingest"), platform)
    async with running(app, as_role("feed")) as client:
        if path == "/files":
            response = await client.post(path, params=params, files={"file": ("b.csv", b"a,b\n")})
        else:
            response = await client.get(path, params=params)
        assert response.status_code == 422 and field in response.text


@pytest.mark.parametrize(
    ("content", "status", "says"),
    [
        (b"\x81\x20\xff not text at all", 422, "neither UTF-8 nor GBK"),
        ("标称生产企业名称,产品名称\n".encode(), 422, "no data rows"),  # a header and nothing under it
        (b"PK\x03\x04 truncated", 422, "truncated or corrupt"),
    ],
)
async def test_an_upload_that_fails_as_a_whole_is_a_4xx_with_its_reason(
    content, status, says, platform, service_settings
) -> None:
    """Issue 12: such a file was answered 200 with "status": "failed" in the body."""
    app = create_app(service_settings("ingest"), platform)
    async with running(app, as_role("feed")) as client:
        response = await client.post("/files", params={"kind": "spot_check"}, files={"file": ("b.csv", content)})
        assert response.status_code == status and says in response.json()["message"]
        assert response.json()["detail"]["run_id"]  # the failed run is recorded, with the reason
        runs = (await client.get("/feed-runs")).json()
        assert runs[0]["status"] == "failed" and says in runs[0]["error"]


async def test_an_upload_over_the_size_limit_is_a_413(platform, service_settings) -> None:
    app = create_app(service_settings("ingest", max_upload_bytes=100), platform)
    async with running(app, as_role("feed")) as client:
        response = await client.post("/files", params={"kind": "spot_check"}, files={"file": ("b.csv", b"x" * 101)})
        assert response.status_code == 413 and "limit is 100" in response.json()["message"]
