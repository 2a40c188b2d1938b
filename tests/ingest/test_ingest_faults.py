"""Faults with real servers: ingest SIGKILLed mid-stream, InfluxDB stopped and restarted, two
ingest processes on one shared subscription. The measure is always the same: the number of
points in InfluxDB equals the number published — nothing missing, nothing twice."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

from campus_twin.servers import InfluxDB, Mosquitto
from contract.telemetry import topic
from ingest.config import BatchConfig, BrokerConfig, IngestConfig
from ingest.service import IngestService
from ops.metrics import MetricsListen
from ops.quarantine import Quarantine, QuarantineConfig
from store.config import InfluxV1StoreConfig
from store.influx_v1 import InfluxV1Store
from tests.ingest.ingest_helpers import IngestProcess, payload, write_config
from tests.support.mqtt import Publisher
from tests.support.waiting import wait_until


def uid() -> str:
    return uuid.uuid4().hex[:8]


def publish_all(
    pub: Publisher, site: str, agents: list[str], batches: int, n: int, pause: float = 0.0
) -> None:
    for seq in range(batches):
        for agent in agents:
            pub.publish(topic(site, agent, "telemetry"), payload(site, agent, seq, n))
        if pause:
            time.sleep(pause)


def subscribed(proc: IngestProcess) -> bool:
    return proc.metrics()["campus_ingest_mqtt_subscribed"] == 1


def influx_store(url: str, db: str) -> InfluxV1Store:
    return InfluxV1Store(url, db, create_database=True)


def test_sigkill_mid_stream_then_restart_loses_nothing(
    mosquitto: Mosquitto,
    influxdb: InfluxDB,
    tmp_path: Path,
    ingest_procs: Callable[[Path], IngestProcess],
) -> None:
    site, db = f"s{uid()}", f"k{uid()}"
    reader = influx_store(influxdb.url, db)
    cfg = write_config(
        tmp_path / "cfg.yaml",
        mosquitto,
        {"type": "influxdb", "url": influxdb.url, "database": db, "create_database": True},
        client_id=f"ingest-{uid()}",
        share_group=f"g{uid()}",
        site=site,
        batch={"max_points": 800, "max_delay_s": 0.5},
    )
    proc = ingest_procs(cfg)
    proc.start()
    wait_until(partial(subscribed, proc), 15, "subscribed")
    batches, n = 120, 100
    total = batches * n
    pub = Publisher(mosquitto, f"agent-{uid()}")
    sender = threading.Thread(target=publish_all, args=(pub, site, ["gw-A"], batches, n, 0.02))
    sender.start()
    wait_until(lambda: reader.count() >= 2000, 30, "ingest under way")
    proc.kill()  # SIGKILL: no flush, no acks for what it was gathering
    at_kill = reader.count()
    sender.join(60)
    pub.close()
    assert at_kill < total, "the kill came after everything was written: the test proved nothing"
    proc.start()  # same client id: the broker resumes the session and redelivers un-acked messages
    wait_until(lambda: reader.count() >= total, 60, f"{total} points after restart")
    assert proc.stop() == 0
    assert reader.count() == total
    assert Quarantine(tmp_path / "quarantine.sqlite", readonly=True).total == 0
    reader.query(f'DROP DATABASE "{db}"')
    reader.close()


def test_influxdb_stopped_then_restarted_loses_nothing(
    mosquitto: Mosquitto, make_influxdb: Callable[[], InfluxDB], tmp_path: Path, publisher: Publisher
) -> None:
    server = make_influxdb()
    site, db = f"s{uid()}", "campus"
    cfg = IngestConfig(
        broker=BrokerConfig(host=mosquitto.host, port=mosquitto.port, client_id=f"ingest-{uid()}"),
        share_group=f"g{uid()}",
        site=site,
        store=InfluxV1StoreConfig(
            type="influxdb", url=server.url, database=db, create_database=True, retry_for_s=0.5
        ),
        quarantine=QuarantineConfig(path=tmp_path / "q.sqlite"),
        metrics=MetricsListen(listen="127.0.0.1:0"),
        batch=BatchConfig(max_points=500, max_delay_s=0.1, backoff_max_s=0.5),
    )
    svc = IngestService(cfg)
    svc.start()
    try:
        assert svc.consumer.wait_ready(10)
        reader = influx_store(server.url, db)
        publish_all(publisher, site, ["gw-A", "gw-B"], 10, 50)
        wait_until(lambda: reader.count() == 1000, 20, "first 1000 points")
        server.stop()
        for seq in range(10, 20):  # published while the database is down
            for agent in ("gw-A", "gw-B"):
                publisher.publish(topic(site, agent, "telemetry"), payload(site, agent, seq, 50))
        wait_until(lambda: svc.metrics.store_errors_total >= 2, 20, "write failures while InfluxDB is down")
        assert svc.metrics.points_written_total == 1000  # nothing confirmed (so nothing acked) while down
        server.start()  # same port, same data directory
        wait_until(lambda: reader.count() == 2000, 60, "all 2000 points after InfluxDB is back")
        # the metric is updated just after the write returns: wait for it, do not race it
        wait_until(lambda: svc.metrics.points_written_total == 2000, 10, "metrics caught up")
        assert reader.count() == 2000
        reader.close()
    finally:
        svc.stop()


def test_two_processes_on_one_shared_subscription_split_the_load(
    mosquitto: Mosquitto,
    influxdb: InfluxDB,
    tmp_path: Path,
    ingest_procs: Callable[[Path], IngestProcess],
    publisher: Publisher,
) -> None:
    site, db, group = f"s{uid()}", f"p{uid()}", f"g{uid()}"
    store = {"type": "influxdb", "url": influxdb.url, "database": db, "create_database": True}
    procs = []
    for i in range(2):
        d = tmp_path / f"p{i}"
        d.mkdir()
        cfg = write_config(
            d / "cfg.yaml", mosquitto, store, client_id=f"ingest-{i}-{uid()}", share_group=group, site=site
        )
        procs.append(ingest_procs(cfg))
    for p in procs:
        p.start()
    for p in procs:
        wait_until(partial(subscribed, p), 30, "subscribed")
    agents = [f"gw-{b}" for b in "ABCDEF"]
    batches, n = 10, 40
    publish_all(publisher, site, agents, batches, n)
    reader = influx_store(influxdb.url, db)
    total = len(agents) * batches * n
    wait_until(lambda: reader.count() >= total, 60, f"{total} points")  # a bound, generous for a loaded box
    telemetry = [p.metrics()['campus_ingest_messages_total{kind="telemetry"}'] for p in procs]
    for p in procs:
        assert p.stop() == 0
    assert reader.count() == total
    assert all(t > 0 for t in telemetry), f"one process took no load: {telemetry}"
    assert sum(telemetry) == len(agents) * batches  # each message handled by exactly one process
    reader.query(f'DROP DATABASE "{db}"')
    reader.close()
