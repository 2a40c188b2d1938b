"""`campus-twin ingest run`: wire config → store, quarantine, bindings, metrics, consumer; run
until SIGTERM/SIGINT (graceful: flush and ack what was gathered), reload bindings on SIGHUP."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from ingest.agent_state import AgentStateDB
from ingest.config import IngestConfig
from ingest.consumer import Consumer
from ingest.enrich import BindingWatcher
from ingest.metrics import IngestMetrics, MetricsServer
from ingest.quarantine import Quarantine
from store.base import Store
from store.factory import open_store

log = logging.getLogger(__name__)


class IngestService:
    def __init__(self, cfg: IngestConfig, store: Store | None = None) -> None:
        self.cfg = cfg
        self.metrics = IngestMetrics()
        self.quarantine = Quarantine(cfg.quarantine_dir)
        self.store = store if store is not None else open_store(cfg.store, on_reject=self._store_reject)
        self.bindings = BindingWatcher(cfg.bindings, cfg.bindings_check_s)
        self.agent_db = AgentStateDB(cfg.state_db)
        self.consumer = Consumer(
            cfg.broker,
            cfg.share_group,
            self.store,
            self.quarantine,
            self.bindings,
            self.metrics,
            self.agent_db,
            cfg.batch,
            cfg.site,
        )
        self.metrics_server: MetricsServer | None = None
        self.stopped = threading.Event()

    def _store_reject(self, line: str, reason: str) -> None:
        """The database refused a point: keep it (fsynced before the ack) and count it."""
        self.quarantine.add("store", None, reason, line.encode())
        with self.metrics.lock:
            self.metrics.store_rejected_points_total += 1

    def start(self) -> None:
        if self.cfg.metrics.enabled:
            self.metrics_server = MetricsServer(
                self.cfg.metrics.host, self.cfg.metrics.port, self.metrics.samples
            )
            log.info("metrics on http://%s:%d/metrics", self.cfg.metrics.host, self.metrics_server.port)
        self.consumer.start()

    def stop(self) -> None:
        self.consumer.stop()
        if self.metrics_server:
            self.metrics_server.close()
        self.store.close()
        self.agent_db.close()
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
