"""What a route declares in its OpenAPI besides its answer: the error bodies, in the shape `shared/errors.py`
renders them (or FastAPI's own), and an `Allow` header that lists every method of a path on a 405."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match

_WHY = {
    400: "the body cannot be parsed (not JSON, or not the form it should be)",
    401: "no token, or a wrong or revoked one",
    403: "the token's role may not do this (the message names the role needed)",
    404: "not found",
    409: "a conflict with the current state, or a constraint (named)",
    413: "too large (the message gives the limit)",
    422: "a field is missing or wrong (named)",
    503: "the database could not complete the request; nothing was stored",
}


class ErrorBody(BaseModel):
    """Every refusal of ours: a code, a sentence, and sometimes details."""

    error: str
    message: str
    detail: Any = None


class FrameworkErrorBody(BaseModel):
    """FastAPI's own refusals: a request that does not fit the route's parameters or body, cannot be parsed, or
    names a path that has no route (a malformed id)."""

    detail: list[dict[str, Any]] | str


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for these status codes, each with its body (JSON, whatever the route answers otherwise)."""
    model: Any = ErrorBody | FrameworkErrorBody
    return {
        code: {
            "model": model if code in (400, 404, 422) else ErrorBody,
            "description": _WHY[code],
            "content": {"application/json": {}},
        }
        for code in codes
    }


def install_allow_header(app: FastAPI) -> None:
    """A 405 names every method the path has (Starlette names only those of the first route that matched it)."""

    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code != 405:
            return await http_exception_handler(request, exc)
        methods = {
            method
            for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
            if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in app.router.routes)
        }
        allow = ", ".join(sorted(methods)) or (exc.headers or {}).get("Allow", "")
        return await http_exception_handler(request, HTTPException(405, exc.detail, headers={"Allow": allow}))

    app.add_exception_handler(HTTPException, method_not_allowed)
