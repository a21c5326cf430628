"""Refuse text PostgreSQL cannot store: a NUL character (U+0000) in a JSON body or a query parameter.

PostgreSQL's text types cannot hold U+0000, so such a value reached the database and came back as a
500. This ASGI middleware answers 422 naming the field before any route runs; bodies that are not JSON
(file uploads) pass untouched, their cells are parsed and rejected row by row.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_JSON_BODY = 8 * 1024 * 1024  # the largest JSON body inspected; larger ones are left to the route's own limits


class RefuseNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            names = [k for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True) if "\x00" in k + v]
            await _refuse(send, f"query.{names[0] if names else '?'}")
            return
        headers = dict(scope.get("headers", []))
        if b"json" not in headers.get(b"content-type", b""):
            await self.app(scope, receive, send)
            return
        chunks, more, size = [], True, 0
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False) and size <= MAX_JSON_BODY
        body = b"".join(chunks)
        if b"\\u0000" in body or b"\x00" in body:
            where = _path_of_nul(body)
            if where is not None:
                await _refuse(send, where)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": more}

        await self.app(scope, replay, send)


def _path_of_nul(body: bytes) -> str | None:
    """`body.subject.name`: where the first NUL is; None when the body is no JSON (the route says so)."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return _walk(document, "body")


def _walk(value: Any, at: str) -> str | None:
    if isinstance(value, str):
        return at if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in str(key):
                return f"{at}.{key!r}"
            if (found := _walk(item, f"{at}.{key}")) is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _walk(item, f"{at}[{index}]")) is not None:
                return found
    return None


async def _refuse(send: Send, where: str) -> None:
    content = json.dumps(
        {
            "error": "invalid_input",
            "message": f"{where}: contains a NUL character (\\u0000), which cannot be stored; remove it",
            "detail": {"field": where},
        }
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
    await send({"type": "http.response.start", "status": 422, "headers": headers})
    await send({"type": "http.response.body", "body": content})
