"""The authorisation matrix (issue 12 item 6): every route of every service's OpenAPI, called with no token, a
wrong token and a token of each role, answers the status in the table below.

Each call is made without a body and with placeholder path parameters (a zero UUID, or `x`), so a caller who
may use the route gets the route's own answer to an empty request (200, 404 or 422), and one who may not gets
401 or 403 first. A route with no row fails the test, and so does a row with no route: add the row with the
route. Columns: no token, a wrong token, then one settings token per role (tests/support/infra.py).
"""

from __future__ import annotations

import re
from collections import Counter
from contextlib import AsyncExitStack
from typing import Any

import pytest

from certwatch.services import SERVICES
from shared.auth import Role
from tests.support.infra import as_role, running

pytestmark = pytest.mark.integration

COLUMNS = ("none", "wrong", Role.REVIEWER, Role.DECISION_MAKER, Role.ADMINISTRATOR, Role.REGULATOR, Role.FEED)

# fmt: off
#                                                              none wrong  rev   dm  admin  reg  feed
MATRIX: dict[tuple[str, str, str], tuple[int, ...]] = {
    ("ingest", "POST", "/signals"):                            (401, 401, 403, 403, 422, 403, 422),
    ("ingest", "GET", "/signals"):                             (401, 401, 200, 200, 200, 200, 200),
    ("ingest", "GET", "/signals/{signal_id}"):                 (401, 401, 404, 404, 404, 404, 404),
    ("ingest", "GET", "/feeds"):                               (401, 401, 200, 200, 200, 200, 200),
    ("ingest", "POST", "/feeds/{name}/runs"):                  (401, 401, 403, 403, 404, 403, 404),
    ("ingest", "POST", "/files"):                              (401, 401, 403, 403, 422, 403, 422),
    ("ingest", "GET", "/feed-runs"):                           (401, 401, 200, 200, 200, 200, 200),
    ("ingest", "GET", "/feed-runs/{run_id}/rejected"):         (401, 401, 200, 200, 200, 200, 200),
    ("ingest", "GET", "/jobs"):                                (401, 401, 200, 200, 200, 200, 200),
    ("ingest", "GET", "/jobs/{job_id}"):                       (401, 401, 404, 404, 404, 404, 404),

    ("rules", "PUT", "/organisations"):                        (401, 401, 403, 403, 422, 403, 403),
    ("rules", "GET", "/organisations"):                        (401, 401, 200, 200, 200, 200, 403),
    ("rules", "POST", "/organisations/import"):                (401, 401, 403, 403, 422, 403, 403),
    ("rules", "GET", "/organisations/{organisation_id}"):      (401, 401, 404, 404, 404, 404, 403),
    ("rules", "GET", "/risk-events"):                          (401, 401, 200, 200, 200, 200, 403),
    ("rules", "GET", "/risk-events/{risk_event_id}"):          (401, 401, 404, 404, 404, 404, 403),
    ("rules", "POST", "/risk-events/{risk_event_id}/match-verdict"): (401, 401, 422, 422, 403, 403, 403),
    ("rules", "POST", "/risk-events/{risk_event_id}/assign"):  (401, 401, 422, 422, 403, 403, 403),
    ("rules", "POST", "/risk-events/{risk_event_id}/comments"): (401, 401, 422, 422, 403, 403, 403),
    ("rules", "POST", "/risk-events/{risk_event_id}/decision"): (401, 401, 403, 422, 403, 403, 403),
    ("rules", "POST", "/risk-events/{risk_event_id}/close"):   (401, 401, 403, 422, 403, 403, 403),
    ("rules", "POST", "/risk-events/{risk_event_id}/correction"): (401, 401, 403, 422, 403, 403, 403),
    ("rules", "POST", "/risk-events/{risk_event_id}/corrective-action/accept"): (401, 401, 403, 422, 403, 403, 403),
    ("rules", "POST", "/replay"):                              (401, 401, 422, 422, 422, 422, 403),
    ("rules", "POST", "/replay/apply"):                        (401, 401, 403, 403, 422, 403, 403),
    ("rules", "POST", "/screening/match"):                     (401, 401, 422, 422, 422, 422, 403),
    ("rules", "POST", "/screening"):                           (401, 401, 422, 422, 422, 422, 403),
    ("rules", "GET", "/tokens"):                               (401, 401, 403, 403, 200, 403, 403),
    ("rules", "POST", "/tokens"):                              (401, 401, 403, 403, 422, 403, 403),
    ("rules", "DELETE", "/tokens/{token_id}"):                 (401, 401, 403, 403, 404, 403, 403),
    ("rules", "GET", "/jobs"):                                 (401, 401, 403, 403, 200, 403, 403),
    ("rules", "GET", "/jobs/{job_id}"):                        (401, 401, 403, 403, 404, 403, 403),
    ("rules", "POST", "/sweeps"):                              (401, 401, 403, 422, 422, 403, 403),
    ("rules", "GET", "/sweeps"):                               (401, 401, 200, 200, 200, 200, 403),
    ("rules", "GET", "/sweeps/{sweep_id}"):                    (401, 401, 404, 404, 404, 404, 403),
    ("rules", "GET", "/sweeps/{sweep_id}/ranking"):            (401, 401, 404, 404, 404, 404, 403),
    ("rules", "GET", "/sweeps/{sweep_id}/organisations/{organisation_id}"): (401, 401, 404, 404, 404, 404, 403),
    ("rules", "GET", "/sweeps/{sweep_id}/report"):             (401, 401, 404, 404, 404, 404, 403),

    ("notify", "GET", "/deliveries"):                          (401, 401, 200, 200, 200, 200, 403),
    # The organisation's page: public by signed link, no bearer token; a placeholder link is refused (403).
    ("notify", "GET", "/o/{token}"):                           (403, 403, 403, 403, 403, 403, 403),
    ("notify", "GET", "/o/s/{code}"):                          (403, 403, 403, 403, 403, 403, 403),
    ("notify", "POST", "/o/{token}/responses"):                (403, 403, 403, 403, 403, 403, 403),
    ("notify", "POST", "/o/{token}/evidence"):                 (403, 403, 403, 403, 403, 403, 403),
    ("notify", "POST", "/o/{token}/self-report"):              (403, 403, 403, 403, 403, 403, 403),

    ("reporting", "GET", "/summary"):                          (401, 401, 200, 200, 200, 200, 403),
    ("reporting", "GET", "/risk-events/count"):                (401, 401, 200, 200, 200, 200, 403),
    ("reporting", "GET", "/reports/regulator"):                (401, 401, 200, 200, 200, 200, 403),
    ("reporting", "GET", "/dashboard"):                        (401, 401, 200, 200, 200, 200, 403),
    ("reporting", "GET", "/dashboard/events"):                 (401, 401, 200, 200, 200, 200, 403),
    ("reporting", "GET", "/dashboard/events/{risk_event_id}"): (401, 401, 404, 404, 404, 404, 403),
    ("reporting", "GET", "/dashboard/organisations/{organisation_id}"): (401, 401, 404, 404, 404, 404, 403),
    ("reporting", "GET", "/dashboard/report"):                 (401, 401, 200, 200, 200, 200, 403),
    # the dashboard's login: open to all (a token is what it asks for); a form without its fields is a 422
    ("reporting", "GET", "/login"):                            (200, 200, 200, 200, 200, 200, 200),
    ("reporting", "POST", "/login"):                           (422, 422, 422, 422, 422, 422, 422),
    ("reporting", "POST", "/logout"):                          (422, 422, 422, 422, 422, 422, 422),
}
# fmt: on
OPEN = ("/healthz", "/metrics", "/docs", "/openapi.json")  # probes, metrics and docs need no token (/readyz too)
# The dashboard's pages (reporting's GET /dashboard…) also take the login cookie from POST /login instead of the
# bearer token, with the same roles; a browser (Accept: text/html) with neither is sent to /login (303), anything
# else gets the 401 above: tests/e2e/test_dashboard.py.

ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def _headers(column: str | Role) -> dict[str, str]:
    if column == "none":
        return {}
    if column == "wrong":
        return {"Authorization": "Bearer not-a-token-of-anyone"}
    return as_role(column)


def _path(template: str, operation: dict[str, Any]) -> str:
    formats = {
        p["name"]: p.get("schema", {}).get("format") for p in operation.get("parameters", []) if p["in"] == "path"
    }
    return re.sub(r"\{(\w+)\}", lambda m: ZERO_UUID if formats.get(m.group(1)) == "uuid" else "x", template)


async def test_every_route_answers_each_caller_as_the_matrix_says(platform, service_settings, capsys) -> None:
    from certwatch.services import app_factory

    got: dict[tuple[str, str, str], tuple[int, ...]] = {}
    routes: set[tuple[str, str, str]] = set()
    async with AsyncExitStack() as stack:
        for service in SERVICES:
            module, _, name = app_factory(service).partition(":")
            create = getattr(__import__(module, fromlist=[name]), name)
            app = create(service_settings(service), platform)
            client = await stack.enter_async_context(running(app))
            for path in OPEN:
                assert (await client.get(path)).status_code == 200, (service, path)
            for template, operations in app.openapi()["paths"].items():
                for method, operation in operations.items():
                    key = (service, method.upper(), template)
                    routes.add(key)
                    url = _path(template, operation)
                    got[key] = tuple(
                        [
                            (await client.request(key[1], url, headers=_headers(column))).status_code
                            for column in COLUMNS
                        ]
                    )

    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    wrong = {key: (MATRIX[key], got[key]) for key in sorted(routes & MATRIX.keys()) if MATRIX[key] != got[key]}
    with capsys.disabled():
        print(_summary(got))
    assert not missing, f"routes with no row in MATRIX (add one, with the status each caller should get): {missing}"
    assert not stale, f"rows in MATRIX with no route: {stale}"
    assert not wrong, "expected (none, wrong, " + ", ".join(COLUMNS[2:]) + f") vs got: {wrong}"


def _summary(got: dict[tuple[str, str, str], tuple[int, ...]]) -> str:
    lines = ["", "authorisation matrix: routes and calls per service; each role: routes it may use (not 401/403)"]
    for service in SERVICES:
        rows = {k: v for k, v in got.items() if k[0] == service}
        statuses = Counter(status for row in rows.values() for status in row)
        may = {
            str(column): sum(row[i] not in (401, 403) for row in rows.values())
            for i, column in enumerate(COLUMNS)
            if i >= 2
        }
        lines.append(
            f"  {service:10} {len(rows):2} routes, {sum(statuses.values()):3} calls: "
            + ", ".join(f"{s}×{n}" for s, n in sorted(statuses.items()))
            + " | may use: "
            + ", ".join(f"{r} {n}" for r, n in may.items())
        )
    return "\n".join(lines)
