"""/healthz, /readyz, /metrics and the correlation-id middleware, the same on every service."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from shared.logging import correlation_id

CORRELATION_HEADER = "X-Correlation-ID"

MESSAGES = Counter("certwatch_messages_total", "Kafka messages handled", ["service", "topic", "outcome"])
MESSAGE_SECONDS = Histogram("certwatch_message_seconds", "Time to handle one Kafka message", ["service", "topic"])
CONSUMER_LAG = Gauge("certwatch_consumer_lag", "Messages behind the high-water mark", ["service", "topic"])
OUTBOX_PENDING = Gauge("certwatch_outbox_pending", "Outbox rows not yet published", ["service"])
OUTBOX_PUBLISHED = Counter("certwatch_outbox_published_total", "Events published from the outbox", ["service"])
BACKGROUND = Counter(
    "certwatch_background_total",
    "Work done by background jobs (deferred texts, digests, reopened events)",
    ["service", "job", "outcome"],
)
DELIVERIES_QUEUED = Gauge(
    "certwatch_notify_deliveries_queued",
    "Messages recorded and not yet sent: due now, or held by quiet hours",
    ["channel", "state"],
)
DELIVERY_OLDEST_SECONDS = Gauge(
    "certwatch_notify_oldest_due_seconds", "How long the oldest message due now has waited to be sent", ["channel"]
)
HTTP_REQUESTS = Counter("certwatch_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_SECONDS = Histogram("certwatch_http_seconds", "HTTP latency", ["service", "route"])

ReadinessCheck = Callable[[], Awaitable[None]]


def install_observability(app: FastAPI, service: str, checks: dict[str, ReadinessCheck]) -> None:
    """Health, readiness (each named check must pass) and Prometheus metrics, plus request metrics."""

    @app.middleware("http")
    async def _correlate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        cid = request.headers.get(CORRELATION_HEADER) or str(uuid.uuid4())
        token = correlation_id.set(cid)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            correlation_id.reset(token)
        # The route is known only once the router has run: label by its template (/risk-events/{id}).
        route = _route(request)
        HTTP_SECONDS.labels(service, route).observe(time.perf_counter() - started)
        response.headers[CORRELATION_HEADER] = cid
        HTTP_REQUESTS.labels(service, request.method, route, str(response.status_code)).inc()
        return response

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await check()
                results[name] = "ok"
            except Exception as exc:  # a readiness probe reports, it does not raise
                results[name] = f"failed: {type(exc).__name__}: {exc}"
        ready = all(v == "ok" for v in results.values())
        return JSONResponse(status_code=200 if ready else 503, content={"ready": ready, "checks": results})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")
