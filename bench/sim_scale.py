"""Simulator scale: point values/s one process sustains for a campus of ≥ 2,000 devices.

Pipeline = classroom model step + encoding every Modbus device's points into its pymodbus
server (through the profile codec) + publishing every MQTT sensor to a real Mosquitto, tick
after tick with no idle time, while a pymodbus client polls a sample of devices so the
servers answer under load. Baseline = the bare model step (numpy, all rooms), i.e. what the
same point values cost without any protocol: the ratio says how much the wire formats add.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.timing import print_figures, rate
from campus_twin.servers import Mosquitto
from contract.campus import BuildingSpec, CampusSpec, DeviceTemplate, RoomTemplate, expand
from simulators.campus_runner import CampusRunner, RunnerOptions
from simulators.classroom_model import ClassroomModel
from simulators.mqtt_link import BrokerOptions

START_NS = 1_795_395_600_000_000_000  # 2026-11-23 09:00 Asia/Shanghai, a school day


@dataclass
class SteppedClock:
    t_ns: int

    def now_ns(self) -> int:
        return self.t_ns


def scale_campus(buildings: int, floors: int, rooms_per_floor: int) -> CampusSpec:
    """Five devices per classroom (3 Modbus, 2 MQTT), like the demo's smart classrooms."""
    devices = [
        DeviceTemplate(key="air", protocol="modbus", profile="classroom-air-monitor"),
        DeviceTemplate(key="lux", protocol="modbus", profile="renke-rs-gz-n01"),
        DeviceTemplate(key="em", protocol="modbus", profile="chint-ddsu666"),
        DeviceTemplate(
            key="occ", protocol="mqtt", format="zigbee2mqtt", quantities=["occupancy", "illuminance"]
        ),
        DeviceTemplate(
            key="env", protocol="mqtt", format="lorawan", quantities=["temperature", "humidity", "co2"]
        ),
    ]
    room = RoomTemplate(type="smart_classroom", name_zh="智慧教室", count=rooms_per_floor, devices=devices)
    return CampusSpec(
        site="bench-campus",
        name="bench",
        seed=1,
        buildings=[
            BuildingSpec(id=chr(ord("A") + i), name=f"B{i}", floors=floors, rooms_per_floor=[room])
            for i in range(buildings)
        ],
    )


def model_rate(spec: CampusSpec, points_per_step: int, min_s: float) -> dict[str, float]:
    rooms = expand(spec)
    model = ClassroomModel.from_campus(spec, rooms, start_ns=START_NS)
    steps_per_s = rate(lambda: model.advance_to(model.t_ns + model.step_ns), 1, min_s)
    return {"steps_per_s": steps_per_s, "points_per_s": steps_per_s * points_per_step}


async def _poll(runner: CampusRunner, stop: asyncio.Event, devices: list[str]) -> int:
    from pymodbus.client import AsyncModbusTcpClient

    entries = [runner.manifest()["devices"][d] for d in devices]
    clients = {}
    reads = 0
    for e in entries:
        if e["port"] not in clients:
            clients[e["port"]] = AsyncModbusTcpClient(e["host"], port=e["port"], timeout=5, retries=0)
            await clients[e["port"]].connect()
    try:
        while not stop.is_set():
            for e in entries:
                rr = await clients[e["port"]].read_holding_registers(500, count=11, device_id=e["unit_id"])
                if not rr.isError():
                    reads += 1
    finally:
        for c in clients.values():
            c.close()
    return reads


async def pipeline_rate(spec: CampusSpec, broker: Mosquitto, seconds: float) -> dict[str, Any]:
    # exactly one model step per tick: a clock the bench moves by one step before each tick
    clock = SteppedClock(START_NS)
    opts = RunnerOptions(
        broker=BrokerOptions(host=broker.host, port=broker.port), tick_s=0.0, mqtt_interval_s=1e-6
    )
    runner = CampusRunner(spec, opts, clock=clock)
    await runner.start()
    assert runner.link is not None
    stop = asyncio.Event()
    sample = [d for d in runner.modbus if d.endswith("-air")][:20]
    poller = asyncio.create_task(_poll(runner, stop, sample))
    mqtt_values = sum(len(s.quantities) for s in runner.mqtt.sensors)
    try:
        modbus0, msgs0 = runner.stats.modbus_points, runner.stats.mqtt_messages
        ticks, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            clock.t_ns += runner.model.step_ns
            await runner.tick()
            ticks += 1
            await asyncio.sleep(0)
        elapsed = time.perf_counter() - t0
        stop.set()
        reads = await poller
        modbus = runner.stats.modbus_points - modbus0
        msgs = runner.stats.mqtt_messages - msgs0
        per_msg = mqtt_values / max(1, len(runner.mqtt.sensors))
        return {
            "devices": runner.device_count,
            "modbus_devices": len(runner.modbus),
            "mqtt_sensors": len(runner.mqtt.sensors),
            "servers": len(runner.servers),
            "ticks_per_s": ticks / elapsed,
            "modbus_points_per_s": modbus / elapsed,
            "mqtt_messages_per_s": msgs / elapsed,
            "mqtt_values_per_s": msgs * per_msg / elapsed,
            "points_per_s": (modbus + msgs * per_msg) / elapsed,
            "modbus_reads_per_s_under_load": reads / elapsed,
            "points_per_tick": sum(len(b.feeds) for b in runner.modbus.values()) + mqtt_values,
            "mqtt_values_per_round": mqtt_values,
        }
    finally:
        await runner.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="campus-twin bench sim")
    ap.add_argument("--buildings", type=int, default=8)
    ap.add_argument("--floors", type=int, default=6)
    ap.add_argument("--rooms", type=int, default=10, help="classrooms per floor")
    ap.add_argument("--seconds", type=float, default=10.0, help="how long to run the pipeline")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    spec = scale_campus(args.buildings, args.floors, args.rooms)
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "mosquitto")
        broker.start()
        try:
            pipe = asyncio.run(pipeline_rate(spec, broker, args.seconds))
        finally:
            broker.stop()
    base = model_rate(spec, int(pipe["points_per_tick"]), min_s=min(3.0, args.seconds))
    result = {
        "rooms": len(expand(spec)),
        **{k: round(v, 1) if isinstance(v, float) else v for k, v in pipe.items()},
        "baseline_model_steps_per_s": round(base["steps_per_s"], 1),
        "baseline_model_points_per_s": round(base["points_per_s"]),
        "ratio_pipeline_vs_model": round(pipe["points_per_s"] / base["points_per_s"], 3),
        # at speed 1 with the default 60 s model step and 10 s MQTT interval, this campus needs:
        "realtime_points_per_s_needed": round(
            (pipe["points_per_tick"] - pipe["mqtt_values_per_round"]) / 60
            + pipe["mqtt_values_per_round"] / 10,
            1,
        ),
    }
    print_figures(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
