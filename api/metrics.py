"""The API's Prometheus metrics: `GET /metrics` on the API's own port (viewer token), through
prometheus_client and `ops.metrics.exposition` like every other process.

Request metrics are labelled by the matched route's handler (its OpenAPI operation id, e.g.
`getRoom`, else the endpoint's name), never the raw path, so a scanner cannot create unbounded
series; unmatched requests (404s of unknown paths, static files) share one label.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from fastapi import APIRouter, Depends, FastAPI, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, Metric
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import viewer
from api.state import AppState
from ops.metrics import CONTENT_TYPE, exposition

UNMATCHED = "(unmatched)"


class AgentHealthCollector(Collector):
    """What the agent-health listener knows, read at scrape time."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        book = self.state.agent_health
        agents = book.agents() if book is not None else []
        known = GaugeMetricFamily(
            "campus_api_agents", "agents seen on the retained status topics, by state", labels=["state"]
        )
        by_state: dict[str, int] = {}
        for a in agents:
            by_state[a.state] = by_state.get(a.state, 0) + 1
        for st, n in sorted(by_state.items()):
            known.add_metric([st], n)
        yield known
        yield CounterMetricFamily(
            "campus_api_agent_status_rejected",
            "agent status/health messages that could not be decoded",
            value=book.rejected if book is not None else 0,
        )


class CalendarCollector(Collector):
    """Days until each campus's school calendar ends (negative: ended, its days are judged
    no_calendar), read at scrape time; `…_ending` is 1 from CALENDAR_WARN_DAYS before."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        from contract.school_time import CALENDAR_WARN_DAYS
        from twin.standards.settings import campus_calendar

        left = GaugeMetricFamily(
            "campus_api_school_calendar_days_left",
            "days until the campus's school calendar ends (negative: ended; later days are no_calendar)",
            labels=["campus"],
        )
        ending = GaugeMetricFamily(
            "campus_api_school_calendar_ending",
            f"1 when the campus's school calendar ends within {CALENDAR_WARN_DAYS} days or has ended",
            labels=["campus"],
        )
        today = self.state.to_dt(self.state.now_ns()).date()
        for campus in self.state.loaded.campuses:
            try:
                days = campus_calendar(campus.standards).days_left(today)
            except ValueError:  # a broken calendar file is reported where the twin loads it
                continue
            if days is not None:
                left.add_metric([campus.id], days)
                ending.add_metric([campus.id], 1 if days <= CALENDAR_WARN_DAYS else 0)
        yield left
        yield ending


class ApiMetrics:
    """The API process's registry and its request instruments."""

    def __init__(self, state: AppState) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "campus_api_requests",
            "HTTP requests by method, handler and status code",
            ["method", "handler", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "campus_api_request_duration_seconds",
            "HTTP request handling time by handler",
            ["handler"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.registry.register(AgentHealthCollector(state))
        self.registry.register(CalendarCollector(state))


def handler_of(route: object) -> str:
    """A bounded label for the matched route: operation id, else endpoint name."""
    if route is None:
        return UNMATCHED
    return str(getattr(route, "operation_id", None) or getattr(route, "name", None) or UNMATCHED)


class RequestMetricsMiddleware:
    """Pure ASGI middleware (no buffering of bodies): counts and times every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        t0 = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            handler = handler_of(scope.get("route"))
            self.metrics.requests.labels(scope["method"], handler, str(status)).inc()
            self.metrics.duration.labels(handler).observe(time.perf_counter() - t0)


def install_metrics(app: FastAPI, state: AppState) -> ApiMetrics:
    """Add the middleware and `GET /metrics` (viewer token: Prometheus sends it as a bearer)."""
    metrics = ApiMetrics(state)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    router = APIRouter(tags=["meta"], dependencies=[Depends(viewer)])

    @router.get("/metrics", operation_id="getMetrics", include_in_schema=False)
    def get_metrics() -> Response:
        return Response(exposition(metrics.registry), media_type=CONTENT_TYPE)

    app.include_router(router)
    app.state.metrics = metrics
    return metrics
