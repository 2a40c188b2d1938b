"""Prometheus exposition for every process, on prometheus_client (no hand-written text format).

Each process builds its own `CollectorRegistry` (never the global one, so tests can run several
processes' metrics in one interpreter) and serves it with `serve_metrics(listen, registry)`.
State that already lives elsewhere (sequence trackers, buffer depth) is exposed by a custom
collector reading it at scrape time, so there is no second copy to keep in sync.
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass
from typing import Annotated, Final, Literal

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, start_http_server
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

log = logging.getLogger("ops.metrics")

Role = Literal["agent", "ingest", "simulators"]
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

DEFAULT_PORTS: Final[dict[Role, int]] = {"agent": 9110, "ingest": 9111, "simulators": 9112}


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port` (IPv6 as `[::1]:9110`) -> (host, port); port 0 picks a free port."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected host:port, e.g. 127.0.0.1:9110, got {value!r}")
    return host.strip("[]"), int(port)


def _check_listen(value: str | None) -> str | None:
    if value is not None:
        parse_listen(value)
    return value


Listen = Annotated[str, AfterValidator(_check_listen)]


class MetricsListen(BaseModel):
    """`metrics: {listen: "host:port"}`; `listen: null` turns the endpoint off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: Listen | None = Field(description="host:port for GET /metrics, or null to disable")

    @classmethod
    def default_for(cls, role: Role) -> MetricsListen:
        return cls(listen=f"127.0.0.1:{DEFAULT_PORTS[role]}")


@dataclass
class MetricsEndpoint:
    """A running `/metrics` server; `address` is the bound (host, port), useful with port 0."""

    address: tuple[str, int]
    _server: object
    _thread: object

    def stop(self) -> None:
        shutdown = getattr(self._server, "shutdown", None)
        if shutdown is not None:
            shutdown()
        close = getattr(self._server, "server_close", None)
        if close is not None:
            close()


class MetricsListenError(OSError):
    """`/metrics` cannot listen where the config says (port taken, address not on this host).

    The agent logs it and goes on collecting (a gateway's readings come first); ingest and the
    simulators refuse to start with it, and the CLI prints it without a traceback."""


def serve_metrics(listen: str, registry: CollectorRegistry) -> MetricsEndpoint:
    """Serve `registry` on `listen` in a daemon thread (prometheus_client's own server)."""
    host, port = parse_listen(listen)
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, "OSError")
        hint = (
            "another process listens there: set metrics.listen to a free port, or null to turn /metrics off"
            if exc.errno == errno.EADDRINUSE
            else "is the address one of this host's?"
        )
        raise MetricsListenError(
            f"metrics.listen {listen}: cannot listen: {name} ({exc.strerror}); {hint}"
        ) from None
    bound = server.server_address
    endpoint = MetricsEndpoint(address=(str(bound[0]), int(bound[1])), _server=server, _thread=thread)
    log.info("metrics on http://%s:%d/metrics", *endpoint.address)
    return endpoint


def exposition(registry: CollectorRegistry) -> bytes:
    """The text format of `registry` now: for a `/metrics` route inside another server (the API)
    and for tests; served with `CONTENT_TYPE`."""
    return generate_latest(registry)
