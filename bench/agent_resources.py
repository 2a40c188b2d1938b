"""Edge agent resources: resident memory and CPU of `campus-twin agent run` polling N Modbus
devices on static Modbus simulators in their own processes (`bench/modbus_sims.py`) and
forwarding to a local Mosquitto, against the same agent with no devices (baseline measured in
the same run). Linux /proc only."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.modbus_sims import StaticSims
from campus_twin.servers import Mosquitto
from device_profiles.loader import load_library

PROFILE = "classroom-air-monitor"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _config(workdir: Path, name: str, up_port: int, sims: StaticSims, devices: int, interval: float) -> Path:
    lines = [
        "site: bench-site",
        f"agent: gw-{name}",
        "upstream:",
        f"  broker: {{host: 127.0.0.1, port: {up_port}}}",
        "buffer:",
        f"  path: {name}/queue.sqlite",
        "metrics: {listen: null}",
        "modbus:" if devices else "modbus: []",
    ]
    for i in range(devices):
        lines.append(
            f"  - {{id: B-{i:03d}-air, profile: {PROFILE}, unit_id: {i % 247 + 1}, poll_interval_s: {interval},"
            f" transport: {{type: tcp, host: 127.0.0.1, port: {sims.port_for(i)}}}}}"
        )
    path = workdir / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _measure(cfg: Path, warmup_s: float, window_s: float) -> dict[str, float]:
    cli = Path(sys.executable).with_name("campus-twin")
    log = cfg.with_suffix(".log").open("wb")
    proc = subprocess.Popen([str(cli), "agent", "run", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    try:
        time.sleep(warmup_s)
        if proc.poll() is not None:
            raise RuntimeError(f"agent exited early; see {cfg.with_suffix('.log')}")
        c0, t0 = _cpu_s(proc.pid), time.monotonic()
        time.sleep(window_s)
        c1, t1 = _cpu_s(proc.pid), time.monotonic()
        return {"rss_mb": _rss_mb(proc.pid), "cpu_percent": 100 * (c1 - c0) / (t1 - t0)}
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="campus-twin bench agent")
    ap.add_argument("--devices", type=int, default=100, help="Modbus devices (≤247 on one simulator port)")
    ap.add_argument("--interval", type=float, default=10.0, help="poll interval per device, seconds")
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--window", type=float, default=20.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    profile = load_library()[PROFILE]
    sims = StaticSims(PROFILE, min(args.devices, 247))
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as tmp:
        work = Path(tmp)
        broker = Mosquitto(work / "mosquitto")
        broker.start()
        try:
            base = _measure(
                _config(work, "idle", broker.port, sims, 0, args.interval), args.warmup, args.window
            )
            load = _measure(
                _config(work, "load", broker.port, sims, args.devices, args.interval),
                args.warmup,
                args.window,
            )
        finally:
            broker.stop()
            sims.close()
    per100 = 100 / max(args.devices, 1)
    points = len(profile.points)
    result = {
        "devices": args.devices,
        "points_per_device": points,
        "poll_interval_s": args.interval,
        "readings_per_s": round(args.devices * points / args.interval, 1),
        "baseline_rss_mb": round(base["rss_mb"], 1),
        "baseline_cpu_percent": round(base["cpu_percent"], 2),
        "rss_mb": round(load["rss_mb"], 1),
        "cpu_percent": round(load["cpu_percent"], 2),
        "rss_mb_per_100_devices": round((load["rss_mb"] - base["rss_mb"]) * per100, 1),
        "cpu_percent_per_100_devices": round((load["cpu_percent"] - base["cpu_percent"]) * per100, 2),
        "ratio_rss_vs_idle": round(load["rss_mb"] / base["rss_mb"], 2) if base["rss_mb"] else None,
    }
    for k, v in result.items():
        print(f"{k:32s} {v}")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
