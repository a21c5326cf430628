"""NUL characters are refused with a 422 naming the field, before PostgreSQL sees them (issue 12 item 7)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from shared.nul import RefuseNul


class Body(BaseModel):
    subject: dict[str, str]
    tags: list[str] = []


def client() -> TestClient:
    app = FastAPI()
    app.add_middleware(RefuseNul)

    @app.post("/things")
    async def things(body: Body) -> dict[str, object]:
        return body.model_dump()

    @app.get("/things")
    async def search(name: str = "") -> dict[str, str]:
        return {"name": name}

    return TestClient(app)


def test_a_nul_in_a_json_string_is_a_422_naming_its_field() -> None:
    response = client().post("/things", json={"subject": {"name": "x\u0000y"}})
    assert response.status_code == 422 and response.json()["detail"]["field"] == "body.subject.name"
    listed = client().post("/things", json={"subject": {}, "tags": ["ok", "\u0000"]})
    assert listed.status_code == 422 and "body.tags[1]" in listed.json()["message"]


def test_a_nul_in_a_query_parameter_is_a_422_naming_it() -> None:
    response = client().get("/things", params={"name": "a\u0000"})
    assert response.status_code == 422 and response.json()["detail"]["field"] == "query.name"


def test_clean_requests_pass_untouched() -> None:
    assert client().post("/things", json={"subject": {"name": "浙江宏远"}, "tags": ["\\u0000 as text"]}).json() == {
        "subject": {"name": "浙江宏远"},
        "tags": ["\\u0000 as text"],
    }
    assert client().get("/things", params={"name": "宏远"}).json() == {"name": "宏远"}
