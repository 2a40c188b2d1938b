"""The simulators' Prometheus metrics: `RunnerStats` read at scrape time through prometheus_client,
served by `ops.metrics.serve_metrics` (`sim run --metrics-listen 127.0.0.1:9112`)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Metric
from prometheus_client.core import CounterMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector

from simulators.campus_runner import RunnerStats


class RunnerCollector(Collector):
    def __init__(self, stats: RunnerStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        for name, doc, value in (
            ("campus_sim_model_steps", "physical model steps", s.model_steps),
            (
                "campus_sim_modbus_points_written",
                "point values written into the Modbus servers",
                s.modbus_points,
            ),
            ("campus_sim_mqtt_messages", "sensor messages published", s.mqtt_messages),
            ("campus_sim_mqtt_values", "values carried by the published messages", s.mqtt_values),
            (
                "campus_sim_faults_injected",
                "faults applied (start-up, control topic, API)",
                s.faults_injected,
            ),
            (
                "campus_sim_encode_errors",
                "values a register could not hold (left unchanged)",
                s.encode_errors,
            ),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        yield SummaryMetricFamily(
            "campus_sim_tick_seconds",
            "wall time of the value-update ticks",
            count_value=s.ticks,
            sum_value=s.tick_seconds_sum,
        )


def runner_registry(stats: RunnerStats) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RunnerCollector(stats))
    return registry
