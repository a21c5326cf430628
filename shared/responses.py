"""The error answers a route declares in its OpenAPI, in the shape `shared/errors.py` renders them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_WHY = {
    400: "the request cannot be carried out as sent",
    401: "no token, or a wrong or revoked one",
    403: "the token's role may not do this (the message names the role needed)",
    404: "not found",
    409: "a conflict with the current state, or a constraint (named)",
    413: "too large (the message gives the limit)",
    422: "a field is missing or wrong (named)",
    503: "the database could not complete the request; nothing was stored",
}


class ErrorBody(BaseModel):
    """Every refusal: a code, a sentence, and sometimes details."""

    error: str
    message: str
    detail: Any = None


class ValidationErrorBody(BaseModel):
    """FastAPI's own answer to a request that does not fit the route's parameters or body."""

    detail: list[dict[str, Any]]


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for these status codes, each with the error body (a 422 may also be FastAPI's own)."""
    return {
        code: {"model": ErrorBody | ValidationErrorBody if code == 422 else ErrorBody, "description": _WHY[code]}
        for code in codes
    }
