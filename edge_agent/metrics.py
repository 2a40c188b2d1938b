"""The agent's `/metrics`: a prometheus_client collector reading the agent's state at scrape time.

Served by `ops.metrics.serve_metrics` (one exposition helper for every process). The collector
only reads plain snapshots (queue stats refreshed by housekeeping, per-device health, link
state), so the HTTP thread never touches SQLite or live asyncio objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from edge_agent.buffer import DROP_REASONS
from edge_agent.device_health import DeviceHealth
from edge_agent.retention import RetentionStats


@dataclass
class LinkState:
    """One broker connection as `/metrics` and the health message show it."""

    role: str  # upstream | sensors
    address: str
    connected: bool = False
    connects_total: int = 0
    last_reason: str | None = None


@dataclass
class AgentSnapshot:
    """Everything `/metrics` shows, assembled by the agent (see `Agent.snapshot`)."""

    queue_depth: int = 0
    queue_bytes: int = 0
    oldest_unsent_age_s: float = 0.0
    dropped: dict[str, int] = field(default_factory=dict)
    given_up_batches: int = 0  # sent batches removed unconfirmed (buffer.py tombstones)
    quarantined_total: int = 0
    readings_in_total: int = 0
    batches_acked_total: int = 0
    readings_acked_total: int = 0
    devices: list[DeviceHealth] = field(default_factory=list)
    links: list[LinkState] = field(default_factory=list)
    overloaded: dict[str, float] = field(default_factory=dict)  # Modbus link -> effective interval (s)
    commits_total: int = 0
    backpressure_waits_total: int = 0
    retention: RetentionStats | None = None  # delivery state (None before the uplink opened it)
    next_seq: int = 0


class AgentCollector(Collector):
    def __init__(self, snapshot: Callable[[], AgentSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self._snapshot()
        yield _gauge(
            "campus_agent_queue_depth", "Readings buffered on disk, not yet acknowledged", s.queue_depth
        )
        yield _gauge("campus_agent_queue_bytes", "Bytes of buffered readings", s.queue_bytes)
        yield _gauge(
            "campus_agent_oldest_unsent_age_seconds",
            "Age of the oldest unacknowledged reading",
            s.oldest_unsent_age_s,
        )
        dropped = CounterMetricFamily(
            "campus_agent_dropped_readings",
            "Readings dropped by buffer limits or storage faults (disk_full, corrupt_buffer), per reason",
            labels=["reason"],
        )
        for reason in sorted({*DROP_REASONS, *s.dropped}):
            dropped.add_metric([reason], s.dropped.get(reason, 0))
        yield dropped
        yield _counter("campus_agent_quarantined", "Payloads/samples quarantined", s.quarantined_total)
        yield _counter("campus_agent_readings_in", "Samples received from sources", s.readings_in_total)
        yield _counter(
            "campus_agent_batches_acked", "Batches acknowledged by the broker", s.batches_acked_total
        )
        yield _counter(
            "campus_agent_readings_acked", "Readings acknowledged by the broker", s.readings_acked_total
        )
        up = next((link for link in s.links if link.role == "upstream"), None)
        yield _gauge(
            "campus_agent_uplink_connected", "1 when connected upstream", 1 if up and up.connected else 0
        )
        yield from _links(s.links)
        yield _counter(
            "campus_agent_buffer_commits", "Disk transactions for readings (group commit)", s.commits_total
        )
        yield _counter(
            "campus_agent_backpressure_waits",
            "Source hand-overs that waited because the connected uplink fell behind (polling slowed)",
            s.backpressure_waits_total,
        )
        over = GaugeMetricFamily(
            "campus_agent_link_overloaded_poll_interval_seconds",
            "Effective poll interval of a Modbus link whose polls run late (absent when it keeps up)",
            labels=["link"],
        )
        for link, interval in sorted(s.overloaded.items()):
            over.add_metric([link], interval)
        yield over
        yield from _devices(s.devices)
        yield from _delivery(s.retention, s.next_seq, s.given_up_batches)


def _delivery(r: RetentionStats | None, next_seq: int, given_up: int) -> Iterator[Metric]:
    """The delivery mechanism (docs/wire-format.md): what is kept for ingest's `resend`, how far
    ingest confirmed, and what it asked for."""
    r = r or RetentionStats()
    yield _gauge("campus_agent_next_seq", "Seq the next sealed batch gets", next_seq)
    yield _gauge(
        "campus_agent_confirmed_seq",
        "Highest seq ingest confirmed stored (durable); -1 = none yet",
        r.confirmed_seq,
    )
    yield _gauge("campus_agent_retention_batches", "Sent batches kept until ingest confirms them", r.batches)
    yield _gauge("campus_agent_retention_bytes", "Bytes of sent batches kept for resend", r.bytes)
    yield _gauge(
        "campus_agent_given_up_unconfirmed_batches",
        "Sent batches removed by a buffer or retention bound before ingest confirmed them "
        "(their readings count as dropped only if ingest asks for them)",
        given_up,
    )
    yield _counter(
        "campus_agent_resend_requests", "Resend requests from ingest answered", r.resend_requests_total
    )
    yield _counter(
        "campus_agent_resent_batches", "Batches republished on ingest's request", r.resent_batches_total
    )
    yield _counter(
        "campus_agent_gone_batches",
        "Batches ingest asked for that were no longer retained",
        r.gone_batches_total,
    )
    yield _counter(
        "campus_agent_gone_readings",
        "Readings of batches answered gone (counted as dropped)",
        r.gone_readings_total,
    )


def _links(links: list[LinkState]) -> Iterator[Metric]:
    conn = GaugeMetricFamily(
        "campus_agent_broker_connected", "1 when the broker connection is up", labels=["broker", "address"]
    )
    total = CounterMetricFamily(
        "campus_agent_broker_connects", "Successful broker connections", labels=["broker", "address"]
    )
    for link in links:
        conn.add_metric([link.role, link.address], 1 if link.connected else 0)
        total.add_metric([link.role, link.address], link.connects_total)
    yield conn
    yield total


def _devices(devices: list[DeviceHealth]) -> Iterator[Metric]:
    labels = ["device", "protocol"]
    up = GaugeMetricFamily(
        "campus_agent_device_up", "1 when the device answered its last poll", labels=labels
    )
    state = GaugeMetricFamily(
        "campus_agent_device_state", "1 for the device's current state", labels=[*labels, "state"]
    )
    last = GaugeMetricFamily(
        "campus_agent_device_last_success_timestamp_seconds",
        "Unix time of the last poll/message with data",
        labels=labels,
    )
    fails = GaugeMetricFamily(
        "campus_agent_device_consecutive_failures", "Polls in a row without any answer", labels=labels
    )
    bad = GaugeMetricFamily("campus_agent_device_bad_points", "Points bad in the last poll", labels=labels)
    polls = CounterMetricFamily(
        "campus_agent_device_polls",
        "Polls per device and outcome (ok = all points usable, partial = some bad, failed = no answer or every point failed)",
        labels=[*labels, "outcome"],
    )
    point_bad = CounterMetricFamily(
        "campus_agent_point_bad", "Bad readings per point", labels=["device", "point"]
    )
    reason = GaugeMetricFamily(
        "campus_agent_device_last_reason_info",
        "The last failure reason of a device",
        labels=[*labels, "reason"],
    )
    for d in sorted(devices, key=lambda d: d.device):
        lv = [d.device, d.protocol]
        up.add_metric(lv, 1 if d.up else 0)
        for st in ("pending", "up", "down", "disabled"):
            state.add_metric([*lv, st], 1 if d.state == st else 0)
        if d.last_success_ns is not None:
            last.add_metric(lv, d.last_success_ns / 1e9)
        fails.add_metric(lv, d.consecutive_failures)
        bad.add_metric(lv, d.bad_points_last)
        polls.add_metric([*lv, "ok"], d.polls_ok)
        polls.add_metric([*lv, "partial"], d.polls_partial)
        polls.add_metric([*lv, "failed"], d.polls_failed)
        for p, n in sorted(dict(d.bad_points_total).items()):
            point_bad.add_metric([d.device, p], n)
        if d.last_reason:
            reason.add_metric([*lv, d.last_reason], 1)
    yield from (up, state, last, fails, bad, polls, point_bad, reason)


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=value)


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, help_text, value=value)


def agent_registry(snapshot: Callable[[], AgentSnapshot]) -> CollectorRegistry:
    """A registry of its own (never the global one), so tests can run several agents in one process."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(snapshot))
    return registry
