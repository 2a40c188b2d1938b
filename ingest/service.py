"""`campus-twin ingest run`: wire config → store, quarantine, bindings, metrics, consumer; run
until SIGTERM/SIGINT (graceful: flush and ack what was gathered), reload bindings on SIGHUP."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from ingest.config import IngestConfig
from ingest.consumer import Consumer
from ingest.delivery import Confirmer, Ledger
from ingest.enrich import BindingWatcher
from ingest.metrics import IngestMetrics, ingest_registry
from ops.metrics import MetricsEndpoint, serve_metrics
from ops.quarantine import Quarantine
from store.base import Store
from store.factory import open_store

log = logging.getLogger(__name__)


class IngestService:
    def __init__(self, cfg: IngestConfig, store: Store | None = None) -> None:
        self.cfg = cfg
        self.metrics = IngestMetrics()
        # rejects of a batch become durable together, before the batch is acked (Consumer._flush)
        self.quarantine = Quarantine(cfg.quarantine_path, cfg.quarantine.max_records, autoflush=False)
        self.store = store if store is not None else open_store(cfg.store, on_reject=self._store_reject)
        self.bindings = BindingWatcher(cfg.bindings, cfg.bindings_check_s)
        self.ledger: Ledger | None = None
        self.delivery: Confirmer | None = None
        if cfg.delivery.enabled:
            self.ledger = Ledger(cfg.ledger_path)
            self.delivery = Confirmer(
                self.ledger, lambda t, p, r: self._publish(t, p, r), cfg.delivery.resend_after_s
            )
        self.consumer = Consumer(
            cfg.broker,
            cfg.share_group,
            self.store,
            self.quarantine,
            self.bindings,
            self.metrics,
            cfg.batch,
            cfg.site,
            cfg.max_clock_skew_s,
            self.delivery,
            cfg.clock.build(),
        )
        self.registry = ingest_registry(self.metrics, self.delivery)
        self.metrics_endpoint: MetricsEndpoint | None = None
        self.stopped = threading.Event()

    def _publish(self, topic: str, payload: bytes, retain: bool) -> None:
        self.consumer.client.publish(topic, payload, qos=1, retain=retain)

    def _store_reject(self, line: str, reason: str) -> None:
        """The database refused a point: keep it (fsynced before the ack) and count it."""
        self.quarantine.add("store", None, reason, line.encode())
        with self.metrics.lock:
            self.metrics.store_rejected_points_total += 1

    def start(self) -> None:
        if self.cfg.metrics.listen is not None:
            self.metrics_endpoint = serve_metrics(self.cfg.metrics.listen, self.registry)
        self.consumer.start()
        if self.delivery is not None:
            self.delivery.start()

    def stop(self) -> None:
        if self.delivery is not None:
            self.delivery.stop()
        self.consumer.stop()
        if self.ledger is not None:
            self.ledger.close()
        if self.metrics_endpoint:
            self.metrics_endpoint.stop()
        self.store.close()
        self.stopped.set()

    def run(self) -> None:
        """Run in the main thread until a stop signal."""
        stop = threading.Event()

        def on_stop(signum: int, _f: FrameType | None) -> None:
            log.info("signal %d: stopping (flushing gathered messages)", signum)
            stop.set()

        def on_hup(_s: int, _f: FrameType | None) -> None:
            log.info("SIGHUP: reloading the binding table")
            self.bindings.request_reload()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_hup)
        self.start()
        log.info(
            "ingest running: broker %s:%d as %s, share group %s, store %s",
            self.cfg.broker.host,
            self.cfg.broker.port,
            self.cfg.broker.client_id,
            self.cfg.share_group,
            self.cfg.store.type,
        )
        try:
            while not stop.wait(1.0):
                pass
        finally:
            self.stop()
