"""`campus-twin bench ingest`: sustained points/s from MQTT into the store, next to the store's
real write ceiling measured in the same run on the same machine.

Method: ingest's persistent session is created first, then the whole workload is published
while ingest is offline (the broker queues it), then ingest starts and the clock runs until
the store confirmed every point. That measures ingest's drain rate (receive, validate,
enrich, encode, write, ack) without the publisher competing for the same CPU. The ceiling is
the *best* of several writer set-ups writing exactly the lines the pipeline writes, pre-encoded,
to the same InfluxDB (parallel writers 1/2/4 × batch 5,000/10,000 lines × gzip off/on, each into
a fresh database); for SQLite the best of `write_rows` batch sizes and of the bare statement
(`executemany` of pre-built parameters, and the one-JSON-parameter statement `write_rows` uses,
pre-encoded; one transaction per batch, same schema and pragmas). Bytes per point: the same
readings in the previous schema (string fields quality/reason/agent) and in the current one,
each in its own database, measured as TSM bytes on disk after InfluxDB snapshotted its cache.
Target: pipeline ≥ 0.5 × ceiling (SQLite ≥ 0.8). The SQLite pipeline writes 50,000-point
batches (`--sqlite-max-points`: the transaction size at which the bare statement is fastest);
`--processes N` drains with N ingest processes in one share group (one delivery ledger), each
started and imported before the clock runs.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import multiprocessing
import sqlite3
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec

from campus_twin.servers import InfluxDB, Mosquitto
from contract.broker import BrokerSettings
from contract.telemetry import CANONICAL_UNITS, Reading, Row, encode_batch, make_batch, topic
from ingest.config import BatchConfig, BrokerConfig, IngestConfig
from ingest.service import IngestService
from ops.metrics import MetricsListen
from ops.mqtt_client import ClientOptions, build_client
from ops.quarantine import QuarantineConfig
from store.base import RowGroup
from store.config import InfluxV1StoreConfig, SqliteStoreConfig
from store.influx_v1 import InfluxV1Store
from store.lineprotocol import LineEncoder
from store.sqlite import SCHEMA as SQLITE_SCHEMA
from store.sqlite import UPSERT_POINT, UPSERT_POINTS_JSON, UPSERT_SERIES, SQLiteStore

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


def row_groups(work: list[tuple[str, bytes, list[Reading]]]) -> list[tuple[str, str, list[Row]]]:
    return [
        (
            rs[0].site,
            rs[0].agent,
            [(r.device, r.point, r.quantity, r.value, r.unit, r.ts, r.quality, r.reason) for r in rs],
        )
        for _, _, rs in work
    ]


def legacy_line(r: Reading) -> str:
    """The previous schema's line (quality/reason/agent as string fields on every point)."""
    tags = f"device={r.device},point={r.point},site={r.site},unit={r.unit}"
    return f'{r.quantity},{tags} value={r.value!r},quality="{r.quality.value}",reason="",agent="{r.agent}" {r.ts}'


def raw_write(store: InfluxV1Store, lines: list[str], writers: int, batch: int) -> float:
    """points/s of `lines` posted by `writers` threads in `batch`-line requests."""
    chunks = iter([lines[i : i + batch] for i in range(0, len(lines), batch)])
    lock = threading.Lock()

    def run() -> None:
        while True:
            with lock:
                chunk = next(chunks, None)
            if chunk is None:
                return
            store.write_lines(chunk)

    threads = [threading.Thread(target=run) for _ in range(writers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(lines) / (time.perf_counter() - t0)


def influx_ceiling(influx: InfluxDB, lines: list[str]) -> tuple[float, str, dict[str, float]]:
    """Best points/s over the writer set-ups, its name, and every set-up's figure."""
    results: dict[str, float] = {}
    for n, (writers, batch, gz) in enumerate(itertools.product((1, 2, 4), (5000, 10_000), (False, True))):
        store = InfluxV1Store(influx.url, f"raw{n}", create_database=True, gzip_body=gz)
        name = f"{writers} writers, {batch} lines, gzip {'on' if gz else 'off'}"
        results[name] = raw_write(store, lines, writers, batch)
        store.query(f'DROP DATABASE "raw{n}"')
        store.close()
    best = max(results, key=lambda k: results[k])
    return results[best], best, results


def tsm_bytes(influx: InfluxDB, db: str, timeout: float = 180.0) -> int:
    """Bytes of the database's TSM files once the WAL was snapshotted into them and compaction
    settled (the same size on four polls 0.5 s apart)."""
    data, wal = influx.workdir / "data" / db, influx.workdir / "wal" / db
    deadline = time.monotonic() + timeout
    sizes: list[int] = []
    while time.monotonic() < deadline:
        wal_bytes = sum(f.stat().st_size for f in wal.rglob("*.wal")) if wal.exists() else 0
        tsm = sum(f.stat().st_size for f in data.rglob("*.tsm")) if data.exists() else 0
        sizes = [*sizes[-3:], tsm] if tsm and wal_bytes == 0 else []
        if len(sizes) == 4 and len(set(sizes)) == 1:
            return tsm
        time.sleep(0.5)
    raise RuntimeError(f"InfluxDB did not settle {db} into TSM files within {timeout:.0f}s")


def bytes_per_point(
    influx: InfluxDB, work: list[tuple[str, bytes, list[Reading]]], lines: list[str]
) -> tuple[float, float]:
    """(previous schema, current schema) bytes on disk per point, same readings."""
    old = [legacy_line(r) for _, _, rs in work for r in rs]
    out = []
    for db, ls in (("bytes_old", old), ("bytes_new", lines)):
        store = InfluxV1Store(influx.url, db, create_database=True)
        raw_write(store, ls, 2, 10_000)
        store.close()
        out.append(tsm_bytes(influx, db) / len(ls))
    return out[0], out[1]


def sqlite_ceiling(
    d: Path, groups: list[tuple[str, str, list[Row]]], no_tags: dict[tuple[str, str, str], dict[str, str]]
) -> dict[str, float]:
    """points/s of the same rows into fresh SQLite files: through `write_rows` at three batch
    sizes, and as the bare statement — one `executemany` of pre-built parameters per
    transaction, series rows created before the clock starts — which is the file's ceiling
    (same schema, same pragmas: WAL, synchronous=FULL, one commit per batch)."""
    total = sum(len(rows) for _, _, rows in groups)
    out: dict[str, float] = {}
    for batch in (5000, 10_000, 50_000):
        store = SQLiteStore(d / f"raw{batch}.db")
        chunks = [(s, a, rows[i : i + batch]) for s, a, rows in groups for i in range(0, len(rows), batch)]
        t0 = time.perf_counter()
        pending: list[RowGroup] = []
        n = 0
        for g in chunks:
            pending.append(g)
            n += len(g[2])
            if n >= batch:
                store.write_rows(pending, no_tags)
                pending, n = [], 0
        if pending:
            store.write_rows(pending, no_tags)
        out[f"write_rows, {batch} rows"] = total / (time.perf_counter() - t0)
        store.close()
    for method, batch in (("executemany", 10_000), ("executemany", 50_000), ("json_each", 50_000)):
        conn = sqlite3.connect(d / f"bare-{method}{batch}.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(SQLITE_SCHEMA)
        ids: dict[tuple[str, str, str], int] = {}
        for site, _agent, rows in groups:
            for r in rows:
                k = (site, r[0], r[1])
                if k not in ids:
                    cur = conn.execute(UPSERT_SERIES, (*k, r[2], r[4], "{}", r[5]))
                    ids[k] = int(cur.fetchone()[0])
        params = [
            (ids[(site, r[0], r[1])], r[5], r[3], r[6].value, r[7], agent)
            for site, agent, rows in groups
            for r in rows
        ]
        # the same rows as one JSON parameter per transaction (what `write_rows` sends), encoded
        # before the clock like executemany's parameters
        docs = [msgspec.json.encode(params[i : i + batch]) for i in range(0, len(params), batch)]
        t0 = time.perf_counter()
        for n, i in enumerate(range(0, len(params), batch)):
            conn.execute("BEGIN IMMEDIATE")
            if method == "executemany":
                conn.executemany(UPSERT_POINT, params[i : i + batch])
            else:
                conn.execute(UPSERT_POINTS_JSON, (docs[n],))
            conn.execute("COMMIT")
        out[f"bare {method}, {batch} rows"] = total / (time.perf_counter() - t0)
        conn.close()
    return out


def publish_all(broker: Mosquitto, work: list[tuple[str, bytes, list[Reading]]]) -> None:
    client = build_client(
        BrokerSettings(host=broker.host, port=broker.port),
        ClientOptions(client_id=f"bench-pub-{uuid.uuid4().hex[:6]}"),
    )
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


def drain_processes(
    cfgs: list[IngestConfig], broker: Mosquitto, work: list[tuple[str, bytes, list[Reading]]]
) -> float:
    """`drain` with one ingest process per config (members of one share group): the sessions
    are made first, then every process is started and imported before the clock runs."""
    total = sum(len(rs) for _, _, rs in work)
    for cfg in cfgs:
        svc = IngestService(cfg)
        svc.start()
        if not svc.consumer.wait_ready(15):
            raise RuntimeError("ingest did not subscribe")
        svc.stop()
    publish_all(broker, work)
    ctx = multiprocessing.get_context("spawn")
    go, done = ctx.Event(), ctx.Event()
    counts = [ctx.Value("q", 0) for _ in cfgs]
    ready = [ctx.Event() for _ in cfgs]
    procs = [
        ctx.Process(target=_member, args=(cfg, go, done, r, c), daemon=False)
        for cfg, r, c in zip(cfgs, ready, counts, strict=True)
    ]
    for p in procs:
        p.start()
    try:
        for r in ready:
            if not r.wait(60):
                raise RuntimeError("an ingest process did not start")
        t0 = time.perf_counter()
        go.set()
        deadline = time.monotonic() + 600
        while sum(int(c.value) for c in counts) < total:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {sum(int(c.value) for c in counts)}/{total} points in 600s")
            time.sleep(0.01)
        return total / (time.perf_counter() - t0)
    finally:
        go.set()
        done.set()
        for p in procs:
            p.join(60)


def _member(cfg: IngestConfig, go: Any, done: Any, ready: Any, count: Any) -> None:
    """One ingest process of `drain_processes`: built and imported, started on `go`, reporting
    its written points until `done`."""
    svc = IngestService(cfg)
    ready.set()
    go.wait()
    svc.start()
    while not done.wait(0.01):
        count.value = svc.metrics.points_written_total
    svc.stop()


def ingest_config(
    broker: Mosquitto,
    store: Any,
    workdir: Path,
    max_points: int,
    writers: int,
    share_group: str | None = None,
) -> IngestConfig:
    return IngestConfig(
        broker=BrokerConfig(host=broker.host, port=broker.port, client_id=f"bench-{uuid.uuid4().hex[:6]}"),
        share_group=share_group or f"bench{uuid.uuid4().hex[:6]}",
        store=store,
        quarantine=QuarantineConfig(path=workdir / "quarantine.sqlite"),
        metrics=MetricsListen(listen=None),
        batch=BatchConfig(max_points=max_points, max_messages=100, max_delay_s=0.2, writers=writers),
    )


def run_pipeline(
    args: argparse.Namespace,
    broker: Mosquitto,
    store: Any,
    d: Path,
    work: list[tuple[str, bytes, list[Reading]]],
    max_points: int | None = None,
) -> float:
    points = max_points or args.max_points
    if args.processes <= 1:
        return drain(ingest_config(broker, store, d, points, args.writers), broker, work)
    group = f"bench{uuid.uuid4().hex[:6]}"
    cfgs = [ingest_config(broker, store, d, points, args.writers, group) for _ in range(args.processes)]
    return drain_processes(cfgs, broker, work)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="campus-twin bench ingest", description=__doc__)
    ap.add_argument("--batches", type=int, default=400, help="telemetry messages to publish")
    ap.add_argument("--per-batch", type=int, default=500, help="readings per message")
    ap.add_argument("--agents", type=int, default=8)
    ap.add_argument("--max-points", type=int, default=10_000, help="ingest batch: points per store write")
    ap.add_argument(
        "--writers", type=int, default=BatchConfig().writers, help="ingest: store writes in flight"
    )
    ap.add_argument(
        "--sqlite-max-points",
        type=int,
        default=50_000,
        help="ingest batch into SQLite (one transaction each; the ceiling's best is 50,000-row transactions)",
    )
    ap.add_argument(
        "--processes",
        type=int,
        default=1,
        help="ingest processes sharing the subscription (a share group, one ledger); 1: in this process",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = ap.parse_args(argv)

    work = workload(args.batches, args.per_batch, args.agents)
    groups = row_groups(work)
    no_tags: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
    lines = [
        line
        for site, agent, rows in groups
        for line in LineEncoder().encode_rows(site, agent, rows, no_tags, _refuse)
    ]
    total = len(lines)
    # the bench's own 200k readings stay alive for the whole run: move them out of the cyclic
    # GC's reach, else every collection ingest triggers scans them (an ingest process holds none)
    gc.freeze()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        d = Path(tmp)
        snapshot = '  cache-snapshot-write-cold-duration = "1s"\n  compact-full-write-cold-duration = "1s"'
        broker, influx = Mosquitto(d / "mosquitto"), InfluxDB(d / "influxdb", data_settings=snapshot)
        broker.start()
        influx.start()
        try:
            raw_influx, best_setup, setups = influx_ceiling(influx, lines)
            influx_cfg = InfluxV1StoreConfig(
                type="influxdb", url=influx.url, database="pipe", create_database=True
            )
            pipe_influx = run_pipeline(args, broker, influx_cfg, d, work)
            check = InfluxV1Store(influx.url, "pipe")
            stored_influx = check.count()
            check.query('DROP DATABASE "pipe"')
            check.close()
            old_bpp, new_bpp = bytes_per_point(influx, work, lines)

            sqlite_setups = sqlite_ceiling(d, groups, no_tags)
            raw_sqlite, sqlite_best = max((v, k) for k, v in sqlite_setups.items())
            sq_cfg = SqliteStoreConfig(path=d / "pipe.db")
            pipe_sqlite = run_pipeline(args, broker, sq_cfg, d, work, args.sqlite_max_points)
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
        "writers": args.writers,
        "processes": args.processes,
        "max_points": args.max_points,
        "sqlite_max_points": args.sqlite_max_points,
        "points_per_s": round(pipe_influx),
        "raw_ceiling_points_per_s": round(raw_influx),
        "raw_ceiling_setup": best_setup,
        "raw_setups_points_per_s": {k: round(v) for k, v in setups.items()},
        "ratio": round(pipe_influx / raw_influx, 3),
        "sqlite_points_per_s": round(pipe_sqlite),
        "sqlite_raw_ceiling_points_per_s": round(raw_sqlite),
        "sqlite_raw_ceiling_setup": sqlite_best,
        "sqlite_raw_setups_points_per_s": {k: round(v) for k, v in sqlite_setups.items()},
        "sqlite_ratio": round(pipe_sqlite / raw_sqlite, 3),
        "bytes_per_point": round(new_bpp, 2),
        "bytes_per_point_previous_schema": round(old_bpp, 2),
        "stored_influx": stored_influx,
        "stored_sqlite": stored_sqlite,
        "target_ratio": 0.5,
    }
    print(f"ingest bench: {total} points in {len(work)} MQTT messages of {args.per_batch} readings")
    for name, v in setups.items():
        print(f"  raw InfluxDB /write, {name:34s} {v:10,.0f} points/s")
    for name, v in sqlite_setups.items():
        print(f"  raw SQLite, {name:43s} {v:10,.0f} points/s")
    print(
        f"  InfluxDB: MQTT→ingest→InfluxDB {pipe_influx:10,.0f} points/s"
        f"   best raw ceiling {raw_influx:10,.0f} points/s ({best_setup})   ratio {result['ratio']:.2f}"
        f"   (stored {stored_influx})"
    )
    print(
        f"  SQLite:   MQTT→ingest→SQLite   {pipe_sqlite:10,.0f} points/s"
        f"   best raw ceiling {raw_sqlite:10,.0f} points/s ({sqlite_best})   ratio {result['sqlite_ratio']:.2f}"
        f"   (stored {stored_sqlite})"
    )
    print(f"  InfluxDB bytes/point on disk: {new_bpp:.2f} (previous schema: {old_bpp:.2f})")
    if args.json:
        print(json.dumps(result))
    return 0 if stored_influx == total and stored_sqlite == total else 1


def _refuse(text: str, reason: str) -> None:
    raise RuntimeError(f"bench line not encodable ({reason}): {text}")


if __name__ == "__main__":
    raise SystemExit(main())
