"""What routes declare besides their answer (shared/responses.py): each error status with its body and reason
in the OpenAPI, and a 405 that names every method the path has, not only those of the first route matched."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared.responses import ErrorBody, errors, install_allow_header


def app() -> FastAPI:
    application = FastAPI()
    install_allow_header(application)

    @application.get("/risk-events/{event_id}", responses=errors(401, 403, 404))
    async def get_risk_event(event_id: int) -> dict[str, int]:
        return {"id": event_id}

    @application.post("/risk-events/{event_id}")
    async def act(event_id: int) -> dict[str, int]:
        return {"id": event_id}

    @application.delete("/risk-events/{event_id}")
    async def drop(event_id: int) -> None:
        return None

    return application


def test_a_405_names_every_method_of_the_path() -> None:
    response = TestClient(app()).put("/risk-events/7")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, POST"  # FastAPI serves no HEAD by itself


def test_other_http_errors_are_answered_as_fastapi_would() -> None:
    response = TestClient(app()).get("/nowhere")
    assert response.status_code == 404 and response.json() == {"detail": "Not Found"}


def test_the_openapi_gives_each_declared_error_its_reason_and_body() -> None:
    schema = TestClient(app()).get("/openapi.json").json()
    declared = schema["paths"]["/risk-events/{event_id}"]["get"]["responses"]
    assert declared["401"]["description"] == "no token, or a wrong or revoked one"
    assert declared["403"]["description"].startswith("the token's role may not do this")
    assert declared["404"]["content"]["application/json"]["schema"]["anyOf"]  # ours or FastAPI's own


@pytest.mark.parametrize("code", [401, 403, 409, 413, 503])
def test_our_own_refusals_have_one_body(code: int) -> None:
    [(status, entry)] = errors(code).items()
    assert status == code and entry["model"] is ErrorBody and entry["description"]


def test_a_status_with_no_reason_written_is_a_mistake_caught_at_import() -> None:
    with pytest.raises(KeyError):
        errors(418)
