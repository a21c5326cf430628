"""One error base carrying an HTTP status, rendered by one handler. Services raise these, never HTTP types."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class CertwatchError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, **detail: object) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(CertwatchError):
    status_code = 404
    code = "not_found"


class Conflict(CertwatchError):
    status_code = 409
    code = "conflict"


class InvalidInput(CertwatchError):
    status_code = 422
    code = "invalid_input"


class TooLarge(CertwatchError):
    status_code = 413
    code = "too_large"


class Forbidden(CertwatchError):
    status_code = 403
    code = "forbidden"


class Unauthorized(CertwatchError):
    status_code = 401
    code = "unauthorized"


async def _render(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CertwatchError)
    body: dict[str, object] = {"error": exc.code, "message": exc.message}
    if exc.detail:
        body["detail"] = exc.detail
    return JSONResponse(status_code=exc.status_code, content=body)


async def _database(_: Request, exc: Exception) -> JSONResponse:
    """A write the database refused (409: a constraint, named) or could not take (503: unreachable).
    Either way nothing of the request was stored: its transaction rolled back."""
    from sqlalchemy.exc import IntegrityError

    if isinstance(exc, IntegrityError):
        constraint = getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None) or "a constraint"
        message = f"the change conflicts with {constraint} and was not stored"
        return JSONResponse(status_code=409, content={"error": "conflict", "message": message})
    message = "the database could not complete the request; nothing was stored, try again"
    return JSONResponse(status_code=503, content={"error": "unavailable", "message": message})


async def _unreachable(_: Request, exc: Exception) -> JSONResponse:
    """The database (or broker) cannot be reached at all: the driver's own connection error, which
    SQLAlchemy passes on unwrapped (ConnectionRefusedError while PostgreSQL is down or restarting)."""
    message = f"a service this request needs cannot be reached ({type(exc).__name__}); nothing was stored, try again"
    return JSONResponse(status_code=503, content={"error": "unavailable", "message": message})


def install_error_handler(app: FastAPI) -> None:
    from sqlalchemy.exc import DBAPIError

    app.add_exception_handler(CertwatchError, _render)
    app.add_exception_handler(DBAPIError, _database)
    app.add_exception_handler(ConnectionError, _unreachable)
    app.add_exception_handler(TimeoutError, _unreachable)
