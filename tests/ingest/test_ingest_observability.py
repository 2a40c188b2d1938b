"""What an operator sees of ingest: the delivery state per agent on `/metrics` (scraped over
HTTP from the process's own prometheus_client registry) and MQTT disconnects in words."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from campus_twin.servers import Mosquitto
from contract.delivery import Gone
from ingest.config import BrokerConfig, IngestConfig
from ingest.consumer import disconnect_text, reason_text
from ingest.delivery import Confirmer, Ledger
from ingest.metrics import IngestMetrics, ingest_registry
from ingest.service import IngestService
from ops.metrics import MetricsListen, serve_metrics
from ops.quarantine import QuarantineConfig
from store.config import SqliteStoreConfig
from tests.support.metrics import key, scrape
from tests.support.waiting import wait_until


@pytest.mark.integration
def test_delivery_state_per_agent_is_scraped(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    c = Confirmer(ledger, lambda t, p, r: None, resend_after_s=5)
    c.stored([("s", "g", 0), ("s", "g", 4), ("s", "h", 0), ("s", "h", 1)])
    c.check_gaps(now=100.0)
    c.check_gaps(now=106.0)  # g's gap 1..3 open for 6 s: one resend request
    c.on_gone("s", "g", Gone.model_validate({"from": 1, "to": 2, "readings": 40}))
    endpoint = serve_metrics("127.0.0.1:0", ingest_registry(IngestMetrics(), c))
    try:
        got = scrape("http://{}:{}/metrics".format(*endpoint.address))
    finally:
        endpoint.stop()
        ledger.close()
    g, h = {"site": "s", "agent": "g"}, {"site": "s", "agent": "h"}
    assert got[key("campus_ingest_delivery_durable_seq", **g)] == 2  # 0, then 1..2 gone
    assert got[key("campus_ingest_delivery_missing_batches", **g)] == 1  # 3 still missing
    assert got[key("campus_ingest_delivery_resend_requests_total", **g)] == 1
    assert got[key("campus_ingest_delivery_gone_ranges_total", **g)] == 1
    assert got[key("campus_ingest_delivery_gone_readings_total", **g)] == 40
    assert got[key("campus_ingest_delivery_durable_seq", **h)] == 1
    assert got[key("campus_ingest_delivery_resend_requests_total", **h)] == 0
    assert got[key("campus_ingest_delivery_missing_batches", **h)] == 0


def test_disconnects_and_refusals_are_described() -> None:
    lost = ReasonCode(PacketTypes.DISCONNECT, "Unspecified error")
    assert disconnect_text(lost, False, None) == (
        "connection lost (the broker closed the socket without a DISCONNECT)"
    )
    reset = "failed to receive on socket: [Errno 104] Connection reset by peer"
    assert disconnect_text(lost, False, reset) == f"connection lost ({reset})"
    keepalive = ReasonCode(PacketTypes.DISCONNECT, "Keep alive timeout")
    assert disconnect_text(keepalive, False, None) == "Keep alive timeout (141)"
    shutdown = ReasonCode(PacketTypes.DISCONNECT, "Server shutting down")
    assert disconnect_text(shutdown, True, None) == "the broker sent DISCONNECT: Server shutting down (139)"
    assert reason_text(ReasonCode(PacketTypes.CONNACK, "Not authorized")) == "Not authorized (135)"


def test_a_killed_broker_reads_connection_lost_in_the_log(
    make_mosquitto: Callable[..., Mosquitto], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGKILL the broker under a running ingest: the warning names the broker and says the
    connection was lost (paho alone says "Unspecified error"); after the restart it reconnects."""
    broker = make_mosquitto()
    cfg = IngestConfig(
        broker=BrokerConfig(host=broker.host, port=broker.port, client_id=f"ingest-{uuid.uuid4().hex[:8]}"),
        store=SqliteStoreConfig(path=tmp_path / "ts.db"),
        quarantine=QuarantineConfig(path=tmp_path / "quarantine.sqlite"),
        metrics=MetricsListen(listen=None),
    )
    svc = IngestService(cfg)
    svc.start()
    try:
        assert svc.consumer.wait_ready(10)
        with caplog.at_level(logging.WARNING, logger="ingest.consumer"):
            broker.stop(kill=True)
            wait_until(lambda: "MQTT disconnected" in caplog.text, 15, "the disconnect warning")
            line = next(r.getMessage() for r in caplog.records if "MQTT disconnected" in r.getMessage())
            assert f"{broker.host}:{broker.port}: connection lost (" in line, line
            assert "Unspecified error" not in line
            broker.start()
            assert svc.consumer.wait_ready(20)
    finally:
        svc.stop()


@pytest.mark.integration
def test_metrics_port_taken_is_refused_in_words(tmp_path: Path) -> None:
    """A second ingest on the same `metrics.listen` (a copied config) says which setting to
    change and exits 2, without a traceback (it was an OSError traceback)."""
    import socket
    import subprocess
    from types import SimpleNamespace

    from tests.ingest.ingest_helpers import CLI, write_config

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        broker = SimpleNamespace(host="127.0.0.1", port=1)  # never reached: metrics come first
        store = {"type": "sqlite", "path": str(tmp_path / "points.sqlite")}
        cfg = write_config(tmp_path / "cfg.yaml", broker, store, metrics_port=port)  # type: ignore[arg-type]
        done = subprocess.run(
            [str(CLI), "ingest", "run", str(cfg)], capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 2, done.stderr
    assert f"metrics.listen 127.0.0.1:{port}: cannot listen: EADDRINUSE" in done.stderr
    assert "set metrics.listen to a free port" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
