"""One error base, one handler (shared/errors.py): each error is its status with a code, a message and the
detail it was given; a write the database refused is a 409 naming the constraint, one it could not take or
a database that cannot be reached a 503 saying nothing was stored."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from shared.errors import (
    CertwatchError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooLarge,
    Unauthorized,
    install_error_handler,
)


class _Cause(Exception):
    constraint_name = "uq_certificates_number"


class _DriverError(Exception):
    """What asyncpg's error looks like through SQLAlchemy's adapter: the real one is its `__cause__`."""


def _refused_by_constraint() -> IntegrityError:
    orig = _DriverError("duplicate key")
    orig.__cause__ = _Cause()
    return IntegrityError("INSERT …", {}, orig)


def app_raising(exc: BaseException) -> TestClient:
    app = FastAPI()
    install_error_handler(app)

    @app.get("/boom")
    async def boom() -> None:
        raise exc

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (CertwatchError, 400, "bad_request"),
        (NotFound, 404, "not_found"),
        (Conflict, 409, "conflict"),
        (InvalidInput, 422, "invalid_input"),
        (TooLarge, 413, "too_large"),
        (Forbidden, 403, "forbidden"),
        (Unauthorized, 401, "unauthorized"),
    ],
)
def test_each_error_is_its_status_with_its_code_and_message(
    error: type[CertwatchError], status: int, code: str
) -> None:
    response = app_raising(error("no risk event 42")).get("/boom")
    assert response.status_code == status
    assert response.json() == {"error": code, "message": "no risk event 42"}


def test_the_detail_an_error_was_given_is_rendered_and_none_is_left_out() -> None:
    response = app_raising(InvalidInput("a suspension needs suspended_until", field="suspended_until")).get("/boom")
    assert response.json()["detail"] == {"field": "suspended_until"}
    assert "detail" not in app_raising(NotFound("x")).get("/boom").json()


def test_an_error_keeps_its_message_and_detail_for_callers_that_are_no_route() -> None:
    error = Conflict("cannot suspend: Q-7 is withdrawn", numbers=["Q-7"])
    assert (str(error), error.message, error.detail) == (
        "cannot suspend: Q-7 is withdrawn",
        error.message,
        {"numbers": ["Q-7"]},
    )
    assert isinstance(error, CertwatchError) and error.status_code == 409


def test_a_write_refused_by_a_constraint_is_a_409_naming_it() -> None:
    response = app_raising(_refused_by_constraint()).get("/boom")
    assert response.status_code == 409
    assert response.json() == {
        "error": "conflict",
        "message": "the change conflicts with uq_certificates_number and was not stored",
    }


def test_a_constraint_without_a_name_is_still_a_409() -> None:
    response = app_raising(IntegrityError("INSERT …", {}, _DriverError("dup"))).get("/boom")
    assert response.status_code == 409 and "a constraint" in response.json()["message"]


@pytest.mark.parametrize(
    "error",
    [OperationalError("SELECT 1", {}, _DriverError("server closed")), DBAPIError("SELECT 1", {}, _DriverError("lost"))],
)
def test_a_write_the_database_could_not_take_is_a_503_saying_nothing_was_stored(error: DBAPIError) -> None:
    response = app_raising(error).get("/boom")
    assert response.status_code == 503 and response.json()["error"] == "unavailable"
    assert "nothing was stored" in response.json()["message"]


@pytest.mark.parametrize("error", [ConnectionRefusedError(111, "refused"), TimeoutError(), ConnectionResetError()])
def test_an_unreachable_database_or_broker_is_a_503_naming_the_error(error: Exception) -> None:
    response = app_raising(error).get("/boom")
    assert response.status_code == 503
    assert f"cannot be reached ({type(error).__name__})" in response.json()["message"]


def test_any_other_exception_is_no_certwatch_answer() -> None:
    assert app_raising(RuntimeError("bug")).get("/boom").status_code == 500
