"""Edge agent throughput and cost: readings *delivered* to the broker per second, CPU core-seconds
per 1,000 delivered readings and resident memory, for `campus-twin agent run` polling N devices
× 20 points on static Modbus simulators in their own processes (`bench/modbus_sims.py`) into a
local Mosquitto, with the default uplink. The simulators' own capacity is measured in the same
run (`simulator_capacity`), so a reader sees whether the agent or the load side is the limit.

Same-run baseline: the agent of an older commit (`--before-ref`, default `main`), extracted with
`git archive` and run on the same simulator and broker, one after the other. Delivered readings
are counted by a subscriber (rows in telemetry batches), so both versions are measured alike.

Scenarios: `resources` (100 devices × 20 points every second) and `ramp` (demand raised step by
step; the highest demand delivered at ≥ 95 % is the sustained rate; then 2× that demand).
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
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from bench.modbus_sims import StaticSims, capacity
from campus_twin.servers import Mosquitto
from contract.broker import BrokerSettings
from ops.mqtt_client import ClientOptions, build_client

REPO = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
POINTS = 20
PROFILE = "bench-20-points"


def _profile_yaml() -> str:
    points = "\n".join(
        f"  - {{name: t{i:02d}, quantity: temperature, unit: °C, table: holding_register, address: {i},"
        f" type: int16, scale: 0.1, valid_min: -40, valid_max: 80}}"
        for i in range(POINTS)
    )
    return (
        f"name: {PROFILE}\nmanufacturer: bench\nmodel: synthetic\ndescription: 20 temperatures in one block\n"
        "source: {title: synthetic benchmark profile}\n"
        f"points:\n{points}\n"
    )


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RowCounter:
    """Counts readings in telemetry batches on the broker (both agent versions, same way)."""

    def __init__(self, port: int) -> None:
        self.rows = 0
        self._lock = threading.Lock()
        ready = threading.Event()
        self.client = build_client(BrokerSettings(port=port), ClientOptions(client_id="bench-counter"))
        self.client.on_connect = lambda c, *a: c.subscribe("campus/+/+/telemetry", qos=0)
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not ready.wait(10):
            raise RuntimeError("counter could not subscribe")

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        n = msg.payload.count(b'],["') + 1 if b'"r":[[' in msg.payload else 0
        with self._lock:
            self.rows += n

    def value(self) -> int:
        with self._lock:
            return self.rows

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _transport_key(src: Path) -> str:
    """`type:` since the Modbus source moved to edge_agent/sources/modbus/; older agents read `kind:`."""
    return "type" if (src / "edge_agent" / "sources" / "modbus" / "config.py").exists() else "kind"


def _config(
    work: Path, name: str, up_port: int, sims: StaticSims, devices: int, interval: float, new: bool, key: str
) -> Path:
    conn = ", max_connections: 4" if new else ""
    lines = [
        "site: bench-site",
        f"agent: gw-{name}",
        f"profile_dirs: [{work / 'profiles'}]",
        "upstream:",
        f"  broker: {{host: 127.0.0.1, port: {up_port}}}",
        "buffer:",
        f"  path: {name}/queue.sqlite",
        "metrics: {listen: null}",
        "modbus:",
    ]
    for i in range(devices):
        lines.append(
            f"  - {{id: B-{i:03d}, profile: {PROFILE}, unit_id: {i % 247 + 1}, poll_interval_s: {interval},"
            f" timeout_s: 1, transport: {{{key}: tcp, host: 127.0.0.1, port: {sims.port_for(i)}{conn}}}}}"
        )
    path = work / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _measure(src: Path, cfg: Path, counter: RowCounter, warmup_s: float, window_s: float) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    log = cfg.with_suffix(".log").open("wb")
    cmd = [sys.executable, "-c", "from campus_twin.cli import main; raise SystemExit(main())", "agent", "run"]
    proc = subprocess.Popen([*cmd, str(cfg)], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cfg.parent)
    try:
        time.sleep(warmup_s)
        if proc.poll() is not None:
            raise RuntimeError(f"agent exited early; see {cfg.with_suffix('.log')}")
        c0, r0, t0 = _cpu_s(proc.pid), counter.value(), time.monotonic()
        time.sleep(window_s)
        c1, r1, t1 = _cpu_s(proc.pid), counter.value(), time.monotonic()
        delivered = (r1 - r0) / (t1 - t0)
        cpu = c1 - c0
        rss = _rss_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
    text = cfg.with_suffix(".log").read_text(errors="replace")
    return {
        "delivered_per_s": round(delivered),
        "cpu_core_s_per_1k": round(1000 * cpu / max(r1 - r0, 1), 4),
        "cpu_percent": round(100 * cpu / (t1 - t0), 1),
        "rss_mb": round(rss, 1),
        "overload_log_lines": text.count("overloaded"),  # the poller says it lowered its rate
    }


def _extract(ref: str, dest: Path) -> Path:
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="campus-twin bench agent-throughput")
    ap.add_argument("--before-ref", default="main", help="git ref of the baseline agent (same run)")
    ap.add_argument("--devices", type=int, default=100)
    ap.add_argument("--ramp", default="5000,10000,15000,20000,25000", help="demand steps, readings/s")
    ap.add_argument("--scenario", choices=["resources", "ramp", "all"], default="all")
    ap.add_argument("--warmup", type=float, default=4.0)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--versions", default="before,after", help="which agents to run (before, after)")
    ap.add_argument("--sim-processes", type=int, default=2, help="static Modbus simulator processes")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    results: dict[str, Any] = {
        "devices": args.devices,
        "points_per_device": POINTS,
        "before_ref": args.before_ref,
    }
    with tempfile.TemporaryDirectory(prefix="bench-agent-tp-") as tmp:
        work = Path(tmp)
        (work / "profiles").mkdir()
        (work / "profiles" / f"{PROFILE}.yaml").write_text(_profile_yaml(), encoding="utf-8")
        sims = StaticSims(work / "profiles" / f"{PROFILE}.yaml", min(args.devices, 247), args.sim_processes)
        units = min(args.devices, 247)
        results["simulator_capacity"] = capacity(sims.ports, units, 0, POINTS, POINTS)
        print(
            f"simulator capacity (same run, pipelined raw client): {results['simulator_capacity']}",
            flush=True,
        )
        wanted = args.versions.split(",")
        versions = {v: (REPO if v == "after" else _extract(args.before_ref, work / "before")) for v in wanted}
        broker = Mosquitto(work / "mosquitto")
        broker.start()
        counter = RowCounter(broker.port)
        run = 0

        def measure(version: str, interval: float) -> dict[str, float]:
            nonlocal run
            run += 1
            cfg = _config(
                work,
                f"{version}{run}",
                broker.port,
                sims,
                args.devices,
                interval,
                version == "after",
                _transport_key(versions[version]),
            )
            out = _measure(versions[version], cfg, counter, args.warmup, args.window)
            out["demand_per_s"] = round(args.devices * POINTS / interval)
            print(f"{version:6s} demand {out['demand_per_s']:>6}/s  {out}", flush=True)
            return out

        try:
            if args.scenario in ("resources", "all"):
                results["resources_1s"] = {v: measure(v, 1.0) for v in versions}
            if args.scenario in ("ramp", "all"):
                for v in versions:
                    steps = []
                    best = 0
                    for demand in (int(x) for x in args.ramp.split(",")):
                        m = measure(v, args.devices * POINTS / demand)
                        steps.append(m)
                        if m["delivered_per_s"] >= 0.95 * demand:
                            best = demand
                    over = measure(v, args.devices * POINTS / (2 * best)) if best else None
                    results[f"ramp_{v}"] = {"steps": steps, "sustained_per_s": best, "at_2x": over}
        finally:
            counter.close()
            broker.stop()
            sims.close()
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
