"""`campus-twin bench district`: a district's load through Mosquitto into ingest on this machine.

Many simulated agents (one per school; not full agent processes — contract batches from a
publisher process, as the agents would send them) publish `--points` readings every
`--interval` s each, phases spread evenly, QoS 1, through a real Mosquitto into `--ingest`
real `campus-twin ingest run` processes on a shared subscription writing to a real InfluxDB
1.x. The delay of a batch is from its readings' timestamp (stamped when the batch is built and
sent) to the moment ingest's `durable` confirmation covering its seq reaches the publisher —
i.e. stored *and* confirmed back, the end-to-end acknowledgement itself (contract/delivery.py).
In a real agent the readings also wait up to `upstream.batch_interval_s` before sending.

Figures: offered and sustained points/s (points confirmed stored ÷ time from the first publish
to the last confirmation, so a backlog left at the end lowers it),
p50/p99/max delay, points counted in InfluxDB at the end (must equal points sent), and the
ratio sustained / offered (1.0 = keeps up). Run it at rising `--agents` to find the knee.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt

from campus_twin.servers import InfluxDB, Mosquitto
from contract.broker import BrokerSettings
from contract.delivery import Durable, control_subscription, decode_control, topic_agent
from contract.telemetry import topic
from ops.mqtt_client import ClientOptions, build_client
from store.influx_v1 import InfluxV1Store

S = 1_000_000_000
SITE_PREFIX = "school"
QUANTITIES = (
    ("co2", "ppm"),
    ("temperature", "°C"),
    ("humidity", "%RH"),
    ("illuminance", "lx"),
    ("noise", "dB(A)"),
)


def batch_payload(site: str, agent: str, seq: int, points: int, now_ns: int) -> bytes:
    """A contract batch (docs/wire-format.md rows), readings stamped `now_ns` (+1 ns per device)."""
    rows = []
    for i in range(points):
        q, unit = QUANTITIES[i % len(QUANTITIES)]
        dev = i // len(QUANTITIES)
        rows.append([f"{agent}-d{dev}", q, q, 400.0 + (seq * 7 + i) % 97, unit, now_ns + dev, "g"])
    doc = {"v": 1, "site": site, "agent": agent, "seq": seq, "sent": now_ns, "r": rows}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


class Publisher:
    """The simulated agents over a few MQTT connections; watches `durable` to time each batch."""

    def __init__(self, broker: Mosquitto, agents: int, points: int, interval: float, conns: int) -> None:
        self.agents = [(f"{SITE_PREFIX}-{i:04d}", "gw-1") for i in range(agents)]
        self.points, self.interval = points, interval
        self.lock = threading.Lock()
        self.sent: dict[tuple[str, str], list[tuple[int, int]]] = {a: [] for a in self.agents}  # (seq, ts)
        self.delays: list[tuple[float, float]] = []  # (confirmed at monotonic, delay s)
        self.confirmed_points = 0
        self.clients = []
        settings = BrokerSettings(host=broker.host, port=broker.port)
        for i in range(conns):
            c = build_client(settings, ClientOptions(client_id=f"district-pub-{i}-{uuid.uuid4().hex[:4]}"))
            c.max_inflight_messages_set(200)
            c.max_queued_messages_set(0)
            c.connect(broker.host, broker.port)
            c.loop_start()
            self.clients.append(c)
        watcher = build_client(settings, ClientOptions(client_id=f"district-watch-{uuid.uuid4().hex[:4]}"))
        watcher.on_message = self._on_durable
        watcher.connect(broker.host, broker.port)
        watcher.subscribe(control_subscription("durable"), qos=1)
        watcher.loop_start()
        self.watcher = watcher

    def _on_durable(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        now_ns, now = time.time_ns(), time.monotonic()
        d = decode_control(bytes(msg.payload), msg.topic)
        if not isinstance(d, Durable):
            return
        key = topic_agent(msg.topic)
        with self.lock:
            pending = self.sent.get(key, [])
            k = 0
            while k < len(pending) and pending[k][0] <= d.seq:
                self.delays.append((now, (now_ns - pending[k][1]) / S))
                self.confirmed_points += self.points
                k += 1
            del pending[:k]

    def run(self, duration: float) -> int:
        """Publish for `duration` s at the district rate; returns batches sent."""
        n = len(self.agents)
        step = self.interval / n
        t0 = time.monotonic()
        seqs = dict.fromkeys(self.agents, 0)
        sent = 0
        slot = 0
        while True:
            due = t0 + slot * step
            if due - t0 >= duration:
                return sent
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            site, agent = self.agents[slot % n]
            seq = seqs[(site, agent)]
            now = time.time_ns()
            payload = batch_payload(site, agent, seq, self.points, now)
            with self.lock:
                self.sent[(site, agent)].append((seq, now))
            self.clients[slot % len(self.clients)].publish(topic(site, agent, "telemetry"), payload, qos=1)
            seqs[(site, agent)] = seq + 1
            sent += 1
            slot += 1

    def close(self) -> None:
        for c in (*self.clients, self.watcher):
            c.disconnect()
            c.loop_stop()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def start_ingest(
    d: Path, i: int, broker: Mosquitto, influx: InfluxDB, writers: int
) -> subprocess.Popen[bytes]:
    cfg = {
        "broker": {"host": broker.host, "port": broker.port, "client_id": f"district-ingest-{i}"},
        "share_group": "district",
        "store": {"type": "influxdb", "url": influx.url, "database": "district", "create_database": True},
        "quarantine": {"path": str(d / "quarantine.sqlite")},
        "delivery": {"ledger": str(d / "delivery.db")},  # the share group's ledger
        "metrics": {"listen": None},
        "batch": {"max_points": 10000, "max_messages": 50, "max_delay_s": 0.2, "writers": writers},
    }
    path = d / f"ingest-{i}.yaml"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    log = (d / f"ingest-{i}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "campus_twin.cli", "ingest", "run", str(path)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_connected(logs: list[Path], timeout: float) -> None:
    """Every ingest process connected (+1 s for its SUBACK): a share group without a member drops
    messages, and these simulated agents do not answer `resend` (the real agent does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(p.exists() and "MQTT connected" in p.read_text(errors="replace") for p in logs):
            time.sleep(1.0)
            return
        time.sleep(0.2)
    raise RuntimeError(f"ingest did not connect within {timeout:g}s: see {logs}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="campus-twin bench district", description=__doc__)
    ap.add_argument("--agents", type=int, default=300, help="simulated schools (one agent each)")
    ap.add_argument("--points", type=int, default=500, help="points per school per interval")
    ap.add_argument("--interval", type=float, default=30.0, help="seconds between a school's batches")
    ap.add_argument("--duration", type=float, default=90.0, help="seconds of publishing")
    ap.add_argument("--ingest", type=int, default=2, help="ingest processes (shared subscription)")
    ap.add_argument("--writers", type=int, default=2, help="store writes in flight per ingest process")
    ap.add_argument("--connections", type=int, default=8, help="publisher MQTT connections")
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = ap.parse_args(argv)
    offered = args.agents * args.points / args.interval
    with tempfile.TemporaryDirectory(prefix="bench-district-") as tmp:
        d = Path(tmp)
        broker, influx = Mosquitto(d / "mosquitto"), InfluxDB(d / "influxdb")
        broker.start()
        influx.start()
        procs = [start_ingest(d, i, broker, influx, args.writers) for i in range(args.ingest)]
        pub: Publisher | None = None
        try:
            wait_connected([d / f"ingest-{i}.log" for i in range(args.ingest)], 120.0)
            pub = Publisher(broker, args.agents, args.points, args.interval, args.connections)
            t0 = time.monotonic()
            batches = pub.run(args.duration)
            t_end_pub = time.monotonic()
            deadline = t_end_pub + max(60.0, args.duration)
            while time.monotonic() < deadline:
                with pub.lock:
                    if all(not v for v in pub.sent.values()):
                        break
                time.sleep(0.5)
            drained_s = time.monotonic() - t_end_pub
            with pub.lock:
                unconfirmed = sum(len(v) for v in pub.sent.values())
                delays = list(pub.delays)
            # sustained: every point sent, over first publish → last confirmation (drain included)
            t_last = max((t for t, _ in delays), default=t_end_pub)
            sustained = len(delays) * args.points / max(1e-9, t_last - t0)
            steady = [x for _, x in delays]
            store = InfluxV1Store(influx.url, "district", timeout_s=300)
            stored = store.count()
            store.close()
        finally:
            if pub is not None:
                pub.close()
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
            broker.stop()
            influx.stop()
    sent_points = batches * args.points
    result = {
        "agents": args.agents,
        "points_per_batch": args.points,
        "interval_s": args.interval,
        "ingest_processes": args.ingest,
        "offered_points_s": round(offered),
        "sustained_points_s": round(sustained),
        "ratio_sustained_to_offered": round(sustained / offered, 3),
        "delay_p50_s": round(percentile(steady, 50), 3),
        "delay_p99_s": round(percentile(steady, 99), 3),
        "delay_max_s": round(max(steady, default=float("nan")), 3),
        "points_sent": sent_points,
        "points_stored": stored,
        "batches_unconfirmed": unconfirmed,
        "drain_after_publishing_s": round(drained_s, 1),
        "cpu_cores": os.cpu_count(),
    }
    print(
        f"district: {args.agents} schools × {args.points} points / {args.interval:g} s = {offered:,.0f} points/s offered, "
        f"{args.ingest} ingest processes on a shared subscription → InfluxDB 1.x"
    )
    print(
        f"  sustained {sustained:,.0f} points/s (ratio {sustained / offered:.2f} to offered); "
        f"delay reading → stored+confirmed p50 {result['delay_p50_s']} s, p99 {result['delay_p99_s']} s, "
        f"max {result['delay_max_s']} s"
    )
    print(
        f"  sent {sent_points:,} points, stored {stored:,} (InfluxDB count), unconfirmed batches {unconfirmed}"
    )
    if args.json:
        print(json.dumps(result))
    return 0 if stored == sent_points and unconfirmed == 0 else 1
