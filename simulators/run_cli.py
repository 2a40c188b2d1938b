"""Handlers of `campus-twin sim run` and `sim faults` (imported only when they run)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from contract.campus import CampusSpec
from contract.clock import Clock, ScaledClock, WallClock
from contract.yamlio import load_model
from ops.metrics import serve_metrics
from simulators.campus_runner import CampusRunner, RunnerOptions, fault_message
from simulators.metrics import runner_registry
from simulators.mqtt_link import BrokerOptions, MqttLink

log = logging.getLogger("simulators")


def make_clock(speed: float, origin_ns: int | None, start: str | None, timezone: str) -> Clock:
    """ScaledClock when sped up or started at a chosen simulated time, else the wall clock."""
    origin = origin_ns if origin_ns is not None else time.time_ns()
    offset = 0
    if start:
        local = dt.datetime.fromisoformat(start)
        if local.tzinfo is None:
            local = local.replace(tzinfo=ZoneInfo(timezone))
        offset = int(local.timestamp() * 1e9) - origin
    if speed == 1.0 and not offset and origin_ns is None:
        return WallClock()
    if speed <= 0:
        raise ValueError("--speed must be > 0")
    return ScaledClock(origin, speed, offset)


def parse_fault(text: str) -> tuple[str, str, dict[str, Any]]:
    """'A-201-air:exception:2' → ('A-201-air', 'exception', {'code': 2})."""
    parts = text.split(":")
    if len(parts) < 2:
        raise ValueError(f"--fault {text!r}: expected DEVICE:KIND[:ARG]")
    device, kind, arg = parts[0], parts[1], parts[2] if len(parts) > 2 else None
    params: dict[str, Any] = {}
    if arg is not None:
        key = {"exception": "code", "delay": "delay_s", "burst": "count", "oversized": "size"}.get(kind)
        if key is None:
            raise ValueError(f"--fault {text!r}: {kind} takes no argument")
        params[key] = float(arg) if key == "delay_s" else int(arg)
    return device, kind, params


async def run_campus(args: argparse.Namespace, broker: BrokerOptions | None) -> int:
    spec = load_model(CampusSpec, args.campus)
    clock = make_clock(args.speed, args.origin_ns, args.start, spec.timezone)
    options = RunnerOptions(
        broker=broker,
        host=args.host,
        base_port=args.base_port,
        framer=args.framer,
        tick_s=args.tick_s,
        mqtt_interval_s=args.mqtt_interval_s,
        mqtt_qos=args.mqtt_qos,
        step_s=args.step_s,
        profile_dirs=tuple(args.profiles) if args.profiles else None,
    )
    faults = [parse_fault(f) for f in args.fault]
    runner = CampusRunner(spec, options, clock=clock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    endpoint = None
    try:
        await runner.start()
        if args.metrics_listen:
            endpoint = serve_metrics(args.metrics_listen, runner_registry(runner.stats))
        if args.manifest:
            runner.write_manifest(args.manifest)
        for device, kind, params in faults:
            log.info("fault: %s", runner.inject(device, kind, **params))
        log.info(
            "simulating %s: %d rooms, %d Modbus devices on %d servers, %d MQTT sensors%s",
            spec.site,
            len(runner.rooms),
            len(runner.modbus),
            len(runner.servers),
            len(runner.mqtt.sensors),
            f"; manifest {args.manifest}" if args.manifest else "",
        )
        await runner.run(stop, duration_s=args.duration)
    finally:
        if endpoint is not None:
            endpoint.stop()
        await runner.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    s = runner.stats
    print(
        json.dumps(
            {
                "ticks": s.ticks,
                "model_steps": s.model_steps,
                "modbus_points": s.modbus_points,
                "mqtt_messages": s.mqtt_messages,
                "faults": s.faults_injected,
            }
        )
    )
    return 0


def send_fault(args: argparse.Namespace, broker_of: Callable[[str], BrokerOptions]) -> int:
    manifest = json.loads(Path(args.manifest).read_text(encoding="utf-8"))
    if args.device not in manifest.get("devices", {}):
        print(f"{args.manifest}: no device {args.device!r}", file=sys.stderr)
        return 2
    host_port = args.broker
    if host_port is None:
        b = manifest.get("broker")
        if not b:
            print(f"{args.manifest}: the campus runs without a broker; pass --broker", file=sys.stderr)
            return 2
        host_port = f"{b['host']}:{b['port']}"
    payload = fault_message(
        args.device,
        args.kind,
        code=args.code,
        delay_s=args.delay_s,
        duration_s=args.duration_s,
        count=args.count,
        size=args.size,
    )
    link = MqttLink(broker_of(host_port))
    link.connect()
    try:
        link.publish(manifest["control_topic"], payload, qos=1).wait_for_publish(10)
    finally:
        link.close()
    print(f"sent {payload.decode()} to {manifest['control_topic']}")
    return 0
