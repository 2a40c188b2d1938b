"""`campus-twin bench ingest`: sustained points/s from MQTT into the store, next to the raw
store-write ceiling measured in the same run on the same machine.

Method: ingest's persistent session is created first, then the whole workload is published
while ingest is offline (the broker queues it), then ingest starts and the clock runs until
the store confirmed every point. That measures ingest's drain rate (receive, validate,
enrich, write, ack) without the publisher competing for the same CPU. The ceiling is the
same number of points written by the store alone: pre-encoded line protocol posted to
InfluxDB `/write` in 5000-line requests, and `SQLiteStore.write` of prebuilt points.
Target: pipeline ≥ 0.5 × ceiling.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from campus_twin.servers import InfluxDB, Mosquitto
from contract.telemetry import CANONICAL_UNITS, Reading, encode_batch, make_batch, topic
from ingest.config import BatchConfig, BrokerConfig, IngestConfig, MetricsConfig
from ingest.service import IngestService
from store.base import StoredPoint
from store.config import InfluxV1StoreConfig, SqliteStoreConfig
from store.influx_v1 import InfluxV1Store
from store.lineprotocol import encode_point
from store.sqlite import SQLiteStore

S = 1_000_000_000
T0 = 1_763_884_800 * S
QUANTITIES = ("co2", "temperature", "humidity", "illuminance", "noise")
SITE = "bench-school"


def workload(batches: int, per_batch: int, agents: int) -> list[tuple[str, bytes, list[Reading]]]:
    """Batches like a building gateway sends: 100 devices × 5 quantities, distinct timestamps."""
    out = []
    for seq in range(batches):
        agent = f"gw-{seq % agents}"
        rs = []
        for i in range(per_batch):
            q = QUANTITIES[i % len(QUANTITIES)]
            rs.append(
                Reading(
                    site=SITE,
                    agent=agent,
                    device=f"{agent}-d{(i // len(QUANTITIES)) % 100}",
                    point=q,
                    quantity=q,
                    value=400.0 + (seq * per_batch + i) % 977 / 3,
                    unit=CANONICAL_UNITS[q],
                    ts=T0 + (seq * per_batch + i) * 1000,
                )
            )
        out.append((topic(SITE, agent, "telemetry"), encode_batch(make_batch(SITE, agent, seq, T0, rs)), rs))
    return out


def stored_points(work: list[tuple[str, bytes, list[Reading]]]) -> list[StoredPoint]:
    return [
        StoredPoint(r.series_key, r.ts, r.value, r.quantity, r.unit, agent=r.agent)
        for _, _, rs in work
        for r in rs
    ]


def publish_all(broker: Mosquitto, work: list[tuple[str, bytes, list[Reading]]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:6]}")
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.connect(broker.host, broker.port)
    client.loop_start()
    infos = [client.publish(t, p, qos=1) for t, p, _ in work]
    for info in infos:
        info.wait_for_publish(timeout=120)
    client.disconnect()
    client.loop_stop()


def drain(cfg: IngestConfig, broker: Mosquitto, work: list[tuple[str, bytes, list[Reading]]]) -> float:
    """Create the session, publish while offline, then time ingest until every point is written."""
    total = sum(len(rs) for _, _, rs in work)
    svc = IngestService(cfg)
    svc.start()
    if not svc.consumer.wait_ready(15):
        raise RuntimeError("ingest did not subscribe")
    svc.stop()
    publish_all(broker, work)
    svc = IngestService(cfg)
    t0 = time.perf_counter()
    svc.start()
    deadline = time.monotonic() + 600
    while svc.metrics.points_written_total < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {svc.metrics.points_written_total}/{total} points written in 600s")
        time.sleep(0.01)
    elapsed = time.perf_counter() - t0
    svc.stop()
    return total / elapsed


def ingest_config(broker: Mosquitto, store: Any, workdir: Path, max_points: int) -> IngestConfig:
    return IngestConfig(
        broker=BrokerConfig(host=broker.host, port=broker.port, client_id=f"bench-{uuid.uuid4().hex[:6]}"),
        share_group=f"bench{uuid.uuid4().hex[:6]}",
        store=store,
        quarantine_dir=workdir / "quarantine",
        state_db=workdir / f"state-{uuid.uuid4().hex[:6]}.db",
        metrics=MetricsConfig(enabled=False),
        batch=BatchConfig(max_points=max_points, max_messages=100, max_delay_s=0.2),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="campus-twin bench ingest", description=__doc__)
    ap.add_argument("--batches", type=int, default=400, help="telemetry messages to publish")
    ap.add_argument("--per-batch", type=int, default=500, help="readings per message")
    ap.add_argument("--agents", type=int, default=8)
    ap.add_argument("--max-points", type=int, default=10_000, help="ingest batch: points per store write")
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = ap.parse_args(argv)

    work = workload(args.batches, args.per_batch, args.agents)
    points = stored_points(work)
    total = len(points)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        d = Path(tmp)
        broker, influx = Mosquitto(d / "mosquitto"), InfluxDB(d / "influxdb")
        broker.start()
        influx.start()
        try:
            # InfluxDB: raw ceiling, then the pipeline (separate databases, same server)
            raw_store = InfluxV1Store(influx.url, "raw", create_database=True)
            lines = [encode_point(p) for p in points]
            t0 = time.perf_counter()
            for i in range(0, len(lines), 5000):
                raw_store.write_lines(lines[i : i + 5000])
            raw_influx = total / (time.perf_counter() - t0)
            raw_store.close()
            influx_cfg = InfluxV1StoreConfig(
                type="influxdb", url=influx.url, database="pipe", create_database=True
            )
            pipe_influx = drain(ingest_config(broker, influx_cfg, d, args.max_points), broker, work)
            check = InfluxV1Store(influx.url, "pipe")
            stored_influx = check.count()
            check.close()

            sqlite_raw = SQLiteStore(d / "raw.db")
            t0 = time.perf_counter()
            for i in range(0, len(points), 5000):
                sqlite_raw.write(points[i : i + 5000])
            raw_sqlite = total / (time.perf_counter() - t0)
            sqlite_raw.close()
            sq_cfg = SqliteStoreConfig(path=d / "pipe.db")
            pipe_sqlite = drain(ingest_config(broker, sq_cfg, d, args.max_points), broker, work)
            check_sq = SQLiteStore(d / "pipe.db")
            stored_sqlite = check_sq.count()
            check_sq.close()
        finally:
            broker.stop()
            influx.stop()

    result = {
        "points": total,
        "messages": len(work),
        "readings_per_message": args.per_batch,
        "points_per_s": round(pipe_influx),
        "raw_ceiling_points_per_s": round(raw_influx),
        "ratio": round(pipe_influx / raw_influx, 3),
        "sqlite_points_per_s": round(pipe_sqlite),
        "sqlite_raw_ceiling_points_per_s": round(raw_sqlite),
        "sqlite_ratio": round(pipe_sqlite / raw_sqlite, 3),
        "stored_influx": stored_influx,
        "stored_sqlite": stored_sqlite,
        "target_ratio": 0.5,
    }
    print(f"ingest bench: {total} points in {len(work)} MQTT messages of {args.per_batch} readings")
    print(
        f"  InfluxDB: MQTT→ingest→InfluxDB {pipe_influx:10,.0f} points/s"
        f"   raw /write ceiling {raw_influx:10,.0f} points/s   ratio {result['ratio']:.2f}"
        f"   (stored {stored_influx})"
    )
    print(
        f"  SQLite:   MQTT→ingest→SQLite   {pipe_sqlite:10,.0f} points/s"
        f"   raw store.write    {raw_sqlite:10,.0f} points/s   ratio {result['sqlite_ratio']:.2f}"
        f"   (stored {stored_sqlite})"
    )
    if args.json:
        print(json.dumps(result))
    return 0 if stored_influx == total and stored_sqlite == total else 1


if __name__ == "__main__":
    raise SystemExit(main())
