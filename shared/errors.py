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


def install_error_handler(app: FastAPI) -> None:
    app.add_exception_handler(CertwatchError, _render)
