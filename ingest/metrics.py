"""Counters exposed as Prometheus text on a local port (stdlib only: no client library on a worker).

Gap/duplicate figures come from `contract.sequence.SequenceTracker`; a scrape renders them at
that moment, so there is no second copy to keep in sync.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from contract.sequence import SequenceTracker

Sample = tuple[str, dict[str, str], float]  # name, labels, value


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
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reject(self, klass: str) -> None:
        with self.lock:
            self.rejected_total[klass] = self.rejected_total.get(klass, 0) + 1

    def samples(self) -> Iterable[Sample]:
        with self.lock:
            for kind, n in sorted(self.messages_total.items()):
                yield "campus_ingest_messages_total", {"kind": kind}, n
            yield "campus_ingest_points_written_total", {}, self.points_written_total
            for klass, n in sorted(self.rejected_total.items()):
                yield "campus_ingest_rejected_messages_total", {"reason": klass}, n
            yield "campus_ingest_store_rejected_points_total", {}, self.store_rejected_points_total
            yield "campus_ingest_store_errors_total", {}, self.store_errors_total
            yield "campus_ingest_flushes_total", {}, self.flushes_total
            yield "campus_ingest_flush_seconds_sum", {}, self.flush_seconds_sum
            yield "campus_ingest_pending_messages", {}, self.pending_messages
            yield "campus_ingest_mqtt_subscribed", {}, self.subscribed
            yield "campus_ingest_bindings_loads_total", {}, self.bindings_loads_total
            yield "campus_ingest_bindings_errors_total", {}, self.bindings_errors_total
            seq = self.sequences
            yield "campus_ingest_seq_gaps_total", {}, seq.gaps_total
            yield "campus_ingest_seq_duplicates_total", {}, seq.duplicates_total
            for (site, agent), state in sorted(seq.agents.items()):
                labels = {"site": site, "agent": agent}
                yield "campus_ingest_seq_open_gaps", labels, len(state.missing)
                yield "campus_ingest_seq_highest", labels, state.highest
                yield "campus_ingest_seq_duplicates", labels, self.duplicates_by_agent.get((site, agent), 0)


HELP = {
    "campus_ingest_messages_total": ("counter", "MQTT messages received, by topic kind"),
    "campus_ingest_points_written_total": ("counter", "points the store confirmed durable"),
    "campus_ingest_rejected_messages_total": ("counter", "payloads quarantined, by reason class"),
    "campus_ingest_store_rejected_points_total": ("counter", "points the database refused (quarantined)"),
    "campus_ingest_store_errors_total": ("counter", "failed store writes (retried, not acked)"),
    "campus_ingest_flushes_total": ("counter", "store writes of gathered batches"),
    "campus_ingest_flush_seconds_sum": ("counter", "time spent in store writes"),
    "campus_ingest_pending_messages": ("gauge", "messages received but not yet acked"),
    "campus_ingest_mqtt_subscribed": ("gauge", "1 while connected and subscribed to the broker"),
    "campus_ingest_bindings_loads_total": ("counter", "binding table (re)loads"),
    "campus_ingest_bindings_errors_total": ("counter", "binding table reloads that failed"),
    "campus_ingest_seq_gaps_total": ("counter", "agent batch numbers skipped (may fill later)"),
    "campus_ingest_seq_duplicates_total": ("counter", "agent batches received again"),
    "campus_ingest_seq_open_gaps": ("gauge", "agent batch numbers still missing"),
    "campus_ingest_seq_highest": ("gauge", "highest batch number seen per agent"),
    "campus_ingest_seq_duplicates": ("counter", "batches received again, per agent"),
}


def _label_value(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(samples: Iterable[Sample]) -> str:
    """Prometheus text exposition format 0.0.4."""
    lines: list[str] = []
    seen: set[str] = set()
    for name, labels, value in samples:
        if name not in seen:
            seen.add(name)
            kind, text = HELP.get(name, ("untyped", name))
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        lab = ",".join(f'{k}="{_label_value(v)}"' for k, v in labels.items())
        num = str(int(value)) if float(value).is_integer() else repr(float(value))
        lines.append(f"{name}{{{lab}}} {num}" if lab else f"{name} {num}")
    return "\n".join(lines) + "\n"


class MetricsServer:
    """GET /metrics on host:port in a daemon thread."""

    def __init__(self, host: str, port: int, source: Callable[[], Iterable[Sample]]) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.split("?")[0] not in ("/metrics", "/"):
                    self.send_error(404)
                    return
                body = render(source()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
