"""Ingest's counters, exposed through prometheus_client and served by `ops.metrics.serve_metrics`.

The consumer updates a plain dataclass under a lock (cheap on the hot path); a custom collector
reads it at scrape time. Gap/duplicate figures come from `contract.sequence.SequenceTracker`, also
read at scrape time, so there is no second copy to keep in sync.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Metric
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector

from contract.sequence import SequenceTracker
from ingest.delivery import Confirmer


@dataclass
class IngestMetrics:
    messages_total: dict[str, int] = field(default_factory=lambda: {"telemetry": 0, "status": 0, "health": 0})
    points_written_total: int = 0
    rejected_total: dict[str, int] = field(default_factory=dict)  # by short reason class
    store_rejected_points_total: int = 0
    store_errors_total: int = 0
    flushes_total: int = 0
    flush_seconds_sum: float = 0.0
    pending_messages: int = 0
    subscribed: int = 0
    bindings_loads_total: int = 0
    bindings_errors_total: int = 0
    sequences: SequenceTracker = field(default_factory=SequenceTracker)
    duplicates_by_agent: dict[tuple[str, str], int] = field(default_factory=dict)
    agent_clock_batches_total: dict[str, int] = field(default_factory=dict)  # ahead, behind, late
    agent_clock_restamped_total: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def agent_clock(self, verdict: str, restamped: int) -> None:
        with self.lock:
            self.agent_clock_batches_total[verdict] = self.agent_clock_batches_total.get(verdict, 0) + 1
            self.agent_clock_restamped_total += restamped

    def reject(self, klass: str) -> None:
        with self.lock:
            self.rejected_total[klass] = self.rejected_total.get(klass, 0) + 1


class IngestCollector(Collector):
    """Reads `IngestMetrics` at scrape time (prometheus_client custom collector).

    Names follow the Prometheus conventions: counters end in `_total`, durations are in
    seconds and say so, labels are bounded (`kind`: 3 topic kinds, `reason`: a few reason
    classes, `site`/`agent`: one series per gateway, i.e. hundreds, never per device/point).
    """

    def __init__(self, metrics: IngestMetrics, delivery: Confirmer | None = None) -> None:
        self.metrics = metrics
        self.delivery = delivery

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        with m.lock:
            messages = CounterMetricFamily(
                "campus_ingest_messages", "MQTT messages received, by topic kind", labels=["kind"]
            )
            for kind, n in sorted(m.messages_total.items()):
                messages.add_metric([kind], n)
            rejected = CounterMetricFamily(
                "campus_ingest_rejected_messages", "payloads quarantined, by reason class", labels=["reason"]
            )
            for klass, n in sorted(m.rejected_total.items()):
                rejected.add_metric([klass], n)
            yield messages
            yield rejected
            yield _counter(
                "campus_ingest_points_written", "points the store confirmed durable", m.points_written_total
            )
            yield _counter(
                "campus_ingest_store_rejected_points",
                "points the database refused (quarantined)",
                m.store_rejected_points_total,
            )
            yield _counter(
                "campus_ingest_store_errors", "failed store writes (retried, not acked)", m.store_errors_total
            )
            yield SummaryMetricFamily(
                "campus_ingest_flush_seconds",
                "store writes of gathered batches and the time they took",
                count_value=m.flushes_total,
                sum_value=m.flush_seconds_sum,
            )
            yield GaugeMetricFamily(
                "campus_ingest_pending_messages",
                "QoS 1 messages received and not yet acked (stays at the broker's in-flight limit"
                " when that limit, not ingest, bounds the batches)",
                value=m.pending_messages,
            )
            yield GaugeMetricFamily(
                "campus_ingest_mqtt_subscribed",
                "1 while connected and subscribed to the broker",
                value=m.subscribed,
            )
            yield _counter("campus_ingest_bindings_loads", "binding table (re)loads", m.bindings_loads_total)
            yield _counter(
                "campus_ingest_bindings_errors", "binding table reloads that failed", m.bindings_errors_total
            )
            clock = CounterMetricFamily(
                "campus_ingest_agent_clock_batches",
                "batches whose `sent` disagrees with ingest's clock by more than the skew: ahead (restamped), "
                "behind (steadily late: uncertain) or late (a backlog, stored as stamped)",
                labels=["verdict"],
            )
            for verdict in ("ahead", "behind", "late"):
                clock.add_metric([verdict], m.agent_clock_batches_total.get(verdict, 0))
            yield clock
            yield _counter(
                "campus_ingest_agent_clock_restamped",
                "readings moved onto ingest's clock (agent ahead) or marked uncertain (agent behind)",
                m.agent_clock_restamped_total,
            )
            seq = m.sequences
            yield _counter(
                "campus_ingest_seq_gaps", "agent batch numbers skipped (may fill later)", seq.gaps_total
            )
            yield _counter(
                "campus_ingest_seq_duplicates", "agent batches received again", seq.duplicates_total
            )
            labels = ["site", "agent"]
            open_gaps = GaugeMetricFamily(
                "campus_ingest_seq_open_gaps", "agent batch numbers still missing", labels=labels
            )
            highest = GaugeMetricFamily(
                "campus_ingest_seq_highest", "highest batch number seen per agent", labels=labels
            )
            dups = CounterMetricFamily(
                "campus_ingest_agent_duplicate_batches", "batches received again, per agent", labels=labels
            )
            for (site, agent), state in sorted(seq.agents.items()):
                open_gaps.add_metric([site, agent], len(state.missing))
                highest.add_metric([site, agent], state.highest)
                dups.add_metric([site, agent], m.duplicates_by_agent.get((site, agent), 0))
        yield open_gaps
        yield highest
        yield dups
        if self.delivery is not None:
            yield from delivery_metrics(self.delivery)


def delivery_metrics(delivery: Confirmer) -> Iterator[Metric]:
    """The end-to-end acknowledgement per agent: the share group's ledger (durable seq, missing
    batches, ranges and readings the agent reported gone) and this process's resend requests."""
    labels = ["site", "agent"]
    durable = GaugeMetricFamily(
        "campus_ingest_delivery_durable_seq",
        "highest contiguous batch seq stored (published as durable to the agent)",
        labels=labels,
    )
    missing = GaugeMetricFamily(
        "campus_ingest_delivery_missing_batches",
        "batch seqs between durable and the highest stored that are not stored yet",
        labels=labels,
    )
    resends = CounterMetricFamily(
        "campus_ingest_delivery_resend_requests",
        "resend requests this process sent for gaps that stayed open",
        labels=labels,
    )
    gone = CounterMetricFamily(
        "campus_ingest_delivery_gone_ranges", "gaps the agent reported gone (no longer held)", labels=labels
    )
    gone_readings = CounterMetricFamily(
        "campus_ingest_delivery_gone_readings", "readings in the gaps the agent reported gone", labels=labels
    )
    asked = dict(delivery.resend_requests)
    try:
        states = delivery.states()
    except Exception:  # the ledger is busy or unreadable: scrape the rest, never fail the endpoint
        states = []
    for st in states:
        key = [st.site, st.agent]
        durable.add_metric(key, st.durable)
        missing.add_metric(key, st.missing)
        resends.add_metric(key, asked.pop((st.site, st.agent), 0))
        gone.add_metric(key, st.gone_ranges)
        gone_readings.add_metric(key, st.lost_readings)
    for (site, agent), n in sorted(asked.items()):
        resends.add_metric([site, agent], n)
    yield from (durable, missing, resends, gone, gone_readings)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def ingest_registry(metrics: IngestMetrics, delivery: Confirmer | None = None) -> CollectorRegistry:
    """The process's own registry (never the global one): several services can share a test run."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(IngestCollector(metrics, delivery))
    return registry
