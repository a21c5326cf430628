"""The NUL refusal (shared/nul.py) as properties: any JSON body without U+0000 passes through unchanged, any
body with one is a 422 naming the first place it is, and bodies that are not JSON are never inspected."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.nul import RefuseNul, _path_of_nul, _walk

_app = FastAPI()


@_app.post("/echo")
async def echo(request: Request) -> Any:
    return {"received": (await request.body()).decode(errors="replace")}


_app.add_middleware(RefuseNul)
CLIENT = TestClient(_app)

CLEAN_TEXT = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | CLEAN_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(CLEAN_TEXT, children, max_size=4),
    max_leaves=12,
)
QUICK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@QUICK
@given(document=JSON)
def test_a_json_body_without_a_nul_reaches_the_route_as_sent(document: Any) -> None:
    body = json.dumps(document)
    response = CLIENT.post("/echo", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200 and response.json()["received"] == body


@QUICK
@given(document=st.dictionaries(CLEAN_TEXT, JSON, max_size=3), key=CLEAN_TEXT, before=CLEAN_TEXT, after=CLEAN_TEXT)
def test_a_nul_anywhere_in_a_string_is_a_422_naming_where(
    document: dict[str, Any], key: str, before: str, after: str
) -> None:
    document = {**document, "subject": {"names": ["ok", {key: before + "\x00" + after}]}}
    where = _walk(document, "body")
    assert where is not None and "\x00" not in where
    response = CLIENT.post("/echo", content=json.dumps(document), headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"]["field"] == where and where in response.json()["message"]


def test_the_path_names_keys_list_indexes_and_a_nul_in_a_key() -> None:
    assert _walk({"a": [{"b": "x"}, {"c": "\x00"}]}, "body") == "body.a[1].c"
    assert _walk({"a\x00": 1}, "body") == "body.'a\\x00'"
    assert _walk(["\x00"], "body") == "body[0]"
    assert _walk({"a": 1, "b": [None, True]}, "body") is None


def test_a_body_that_is_no_json_is_left_to_the_route() -> None:
    assert _path_of_nul(b'{"a": "\x00"') is None
    response = CLIENT.post("/echo", content=b"not json \\u0000", headers={"content-type": "application/json"})
    assert response.status_code == 200


def test_a_file_upload_with_nul_bytes_passes_untouched() -> None:
    response = CLIENT.post("/echo", content=b"a,b\x00c\n", headers={"content-type": "text/csv"})
    assert response.status_code == 200 and response.json()["received"] == "a,b\x00c\n"


def test_an_escaped_backslash_before_u0000_is_text_not_a_nul() -> None:
    body = json.dumps({"note": "\\u0000"})
    response = CLIENT.post("/echo", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200


def test_a_nul_in_a_query_key_is_refused_too() -> None:
    response = CLIENT.post("/echo?na%00me=1", content=b"{}", headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"]["field"] == "query.na\x00me"
