"""Request metrics carry the route's template, not `unmatched` (issue 12, item 5)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from shared.observability import install_observability


def test_latency_and_counts_are_labelled_by_the_route_template() -> None:
    app = FastAPI()
    install_observability(app, "routes-test", {})

    @app.get("/risk-events/{event_id}")
    async def one(event_id: str) -> dict[str, str]:
        return {"id": event_id}

    client = TestClient(app)
    for event_id in ("a", "b", "c"):
        assert client.get(f"/risk-events/{event_id}").status_code == 200
    assert client.get("/nowhere").status_code == 404

    def sample(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"service": "routes-test", **labels})

    assert sample("certwatch_http_seconds_count", route="/risk-events/{event_id}") == 3
    assert sample("certwatch_http_requests_total", method="GET", route="/risk-events/{event_id}", status="200") == 3
    assert sample("certwatch_http_seconds_count", route="unmatched") == 1
