"""Modbus poll throughput: 50 devices × 20 points against the local pymodbus simulator.

Planned block reads (device_profiles.planner) against the naive one-request-per-point
strategy (ThingsBoard-style), both through the same poller and server in the same run:
points/s, requests per cycle and their ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import time
from collections.abc import Sequence
from typing import Any

from device_profiles.planner import ReadRequest, plan_profile
from device_profiles.schema import DeviceProfile, PlanLimits
from edge_agent.samples import Sample
from edge_agent.sources.modbus.config import ModbusDevice
from edge_agent.sources.modbus.poller import ModbusPoller, Planner
from simulators.modbus_server import ModbusSimServer, SimDevice

_TYPES = ["uint16", "int16", "float32", "uint32", "float32"]


def bench_profile(points: int) -> DeviceProfile:
    """A realistic mix: 16- and 32-bit values with a few undocumented holes between groups."""
    rows: list[dict[str, Any]] = []
    addr = 0
    for i in range(points):
        t = _TYPES[i % len(_TYPES)]
        rows.append(
            {
                "name": f"p{i:02d}",
                "quantity": "power",
                "unit": "W",
                "table": "holding_register",
                "address": addr,
                "type": t,
                "valid_min": 0,
            }
        )
        addr += (2 if t in ("float32", "uint32") else 1) + (3 if i % 7 == 6 else 0)
    return DeviceProfile.model_validate(
        {
            "name": "bench-20",
            "manufacturer": "bench",
            "model": "bench",
            "source": {"title": "synthetic benchmark profile"},
            "defaults": {"max_gap": 4},
            "points": rows,
        }
    )


def naive_plan(profile: DeviceProfile, override: PlanLimits | None) -> list[ReadRequest]:
    return [ReadRequest(p.table, profile.protocol_address(p), p.words, (p.name,)) for p in profile.points]


async def _discard(samples: Sequence[Sample]) -> None:
    return None


async def _measure(
    devices: list[ModbusDevice], profile: DeviceProfile, planner: Planner, min_s: float
) -> dict[str, float]:
    poller = ModbusPoller(devices, {profile.name: profile}, _discard, planner=planner)
    requests = sum(len(poller.plan(d.id)) for d in devices)
    await poller.poll_once()  # connect
    cycles, good, times = 0, 0, []
    start = time.perf_counter()
    while time.perf_counter() - start < min_s or cycles < 3:
        t0 = time.perf_counter()
        samples = await poller.poll_once()
        times.append(time.perf_counter() - t0)
        good += sum(s.quality.value == "good" for s in samples)
        cycles += 1
    elapsed = time.perf_counter() - start
    poller.close()
    expected = cycles * len(devices) * len(profile.points)
    if good != expected:
        raise RuntimeError(f"only {good} of {expected} samples were good")
    return {
        "requests_per_cycle": requests,
        "points_per_s": good / elapsed,
        "cycle_ms_median": statistics.median(times) * 1000,
        "cycles": cycles,
    }


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    profile = bench_profile(args.points)
    per_server = -(-args.devices // args.servers)
    servers = [
        ModbusSimServer(
            [SimDevice(u + 1, profile) for u in range(min(per_server, args.devices - s * per_server))],
            framer=args.framer,
        )
        for s in range(args.servers)
    ]
    for srv in servers:
        await srv.start()
    kind = "rtu-over-tcp" if args.framer == "rtu" else "tcp"
    devices = [
        ModbusDevice.model_validate(
            {
                "id": f"bench-{si}-{unit.unit_id}",
                "profile": profile.name,
                "unit_id": unit.unit_id,
                "timeout_s": 2.0,
                "transport": {"type": kind, "host": "127.0.0.1", "port": srv.port},
            }
        )
        for si, srv in enumerate(servers)
        for unit in srv.devices.values()
    ]
    try:
        planned = await _measure(devices, profile, plan_profile, args.seconds)
        naive = await _measure(devices, profile, naive_plan, args.seconds)
    finally:
        for srv in servers:
            await srv.stop()
    return {
        "devices": len(devices),
        "points_per_device": len(profile.points),
        "framer": args.framer,
        "servers": args.servers,
        "requests_per_cycle": planned["requests_per_cycle"],
        "naive_requests_per_cycle": naive["requests_per_cycle"],
        "request_ratio_naive_vs_planned": round(
            naive["requests_per_cycle"] / planned["requests_per_cycle"], 2
        ),
        "points_per_s": round(planned["points_per_s"]),
        "naive_points_per_s": round(naive["points_per_s"]),
        "speedup_vs_naive": round(planned["points_per_s"] / naive["points_per_s"], 2),
        "cycle_ms_median": round(planned["cycle_ms_median"], 1),
        "naive_cycle_ms_median": round(naive["cycle_ms_median"], 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="campus-twin bench modbus")
    ap.add_argument("--devices", type=int, default=50)
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--servers", type=int, default=1, help="simulator ports to spread devices over")
    ap.add_argument(
        "--framer",
        choices=["socket", "rtu"],
        default="socket",
        help="rtu = one shared RTU-over-TCP line per server",
    )
    ap.add_argument("--seconds", type=float, default=2.0, help="minimum measuring time per strategy")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    result = asyncio.run(_run(args))
    for k, v in result.items():
        print(f"{k:34s} {v}")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
