"""The campus runner serves the demo campus over Modbus TCP and MQTT; faults reach clients."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.publish as mqtt_publish
import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from campus_twin.servers import Mosquitto, free_port
from contract.campus import CampusSpec
from contract.clock import ScaledClock
from contract.yamlio import load_model
from device_profiles.codec import decode_point
from device_profiles.schema import Table
from simulators.campus_runner import CampusRunner, RunnerOptions, control_topic, fault_message
from simulators.mqtt_formats import application_id, dev_eui
from simulators.mqtt_link import BrokerOptions
from tests.support.metrics import scrape
from tests.support.waiting import async_poll_until, async_wait_until, wait_until

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples/campus/demo-campus.yaml"
TZ = ZoneInfo("Asia/Shanghai")


def demo_clock(speed: float = 600.0) -> ScaledClock:
    now = time.time_ns()
    start = int(dt.datetime(2026, 11, 23, 8, 5, tzinfo=TZ).timestamp() * 1e9)
    return ScaledClock(now, speed, start - now)


async def read_point(runner: CampusRunner, device: str, point: str, timeout: float = 3.0) -> float:
    entry = runner.manifest()["devices"][device]
    profile = runner.profiles[entry["profile"]]
    p = profile.point(point)
    address = profile.protocol_address(p)
    client = AsyncModbusTcpClient(entry["host"], port=entry["port"], timeout=timeout, retries=0)
    await client.connect()
    try:
        read = (
            client.read_holding_registers
            if p.table is Table.HOLDING_REGISTER
            else client.read_input_registers
        )
        rr = await read(address, count=p.words, device_id=entry["unit_id"])
        if rr.isError():
            raise ModbusException(f"exception {rr.exception_code}")
        return float(decode_point(profile, p, rr.registers, address).value)  # type: ignore[arg-type]
    finally:
        client.close()


async def test_demo_campus_over_modbus_and_mqtt(mosquitto: Mosquitto, recorder: Callable[..., Any]) -> None:
    rec = recorder("zigbee2mqtt/#", "tele/+/SENSOR", "application/+/device/+/event/up")
    spec = load_model(CampusSpec, DEMO)
    opts = RunnerOptions(
        broker=BrokerOptions(host=mosquitto.host, port=mosquitto.port), tick_s=0.05, mqtt_interval_s=0.5
    )
    runner = CampusRunner(spec, opts, clock=demo_clock())
    await runner.start()
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        manifest = runner.manifest()
        expected = {d.id for r in runner.rooms for d in r.devices}
        assert set(manifest["devices"]) == expected
        assert {(s["building"], s["server_index"]) for s in manifest["servers"]} == {("A", 0), ("B", 0)}
        assert manifest["devices"]["B-102-env"]["topic"] == (
            f"application/{application_id(spec.site)}/device/{dev_eui('B-102-env')}/event/up"
        )

        # a pymodbus client reads what the model says (values change only on model steps)
        for device, point, quantity, tol in (
            ("A-103-co2", "co2", "co2", 0.5),
            ("A-101-air", "temperature", "temperature", 0.05),
            ("A-101-em", "energy", "energy", 0.01),
            ("B-103-em", "voltage_l1", "voltage", 0.01),
        ):
            for _ in range(20):  # retry if a model step lands between the two reads
                steps = runner.model.steps
                got = await read_point(runner, device, point)
                want = runner.model.value(device.rsplit("-", 1)[0], quantity)
                if runner.model.steps == steps:
                    break
            assert got == pytest.approx(want, abs=tol), device
        assert 380 < await read_point(runner, "A-103-co2", "co2") < 5000
        e0 = await read_point(runner, "A-101-em", "energy")
        # the meter advances as simulated minutes pass (waited for, not slept: the box may be loaded)
        await async_poll_until(
            lambda: read_point(runner, "A-101-em", "energy"), lambda e: e > e0, 15, "energy to advance"
        )

        # every MQTT sensor publishes in its format
        mqtt_topics = {e["topic"] for e in manifest["devices"].values() if e["protocol"] == "mqtt"}
        # wait in a thread: a blocking wait here would stall the runner's publishers on this loop
        await asyncio.to_thread(rec.wait_for, lambda m: mqtt_topics <= {t for t, _ in m}, 15)
        doc = json.loads(rec.on("zigbee2mqtt/A-101-occ")[-1])
        assert set(doc) == {"occupancy", "illuminance", "linkquality", "battery"}
        assert set(json.loads(rec.on("tele/A-103-lux/SENSOR")[-1])) == {"Time", "BH1750"}
        assert set(json.loads(rec.on("zigbee2mqtt/A-105-th")[-1])) == {
            "temperature",
            "humidity",
            "linkquality",
            "battery",
        }

        # Modbus faults, from another process's point of view: a control message on the broker
        topic = control_topic(spec.site)
        await asyncio.to_thread(
            mqtt_publish.single,
            topic,
            fault_message("A-103-co2", "exception", code=2),
            1,
            False,
            mosquitto.host,
            mosquitto.port,
        )
        await async_wait_until(lambda: runner.stats.faults_injected >= 1, 10, "the fault applied")
        with pytest.raises(ModbusException, match="exception 2"):
            await read_point(runner, "A-103-co2", "co2")
        runner.inject("A-103-co2", "clear")
        assert await read_point(runner, "A-103-co2", "co2") > 300

        runner.inject("A-104-th", "timeout", duration_s=1.0)
        with pytest.raises(ModbusException):
            await read_point(runner, "A-104-th", "temperature", timeout=0.5)

        async def temperature_once_back() -> float | None:
            try:
                return await read_point(runner, "A-104-th", "temperature", timeout=0.5)
            except ModbusException:
                return None

        # the fault clears itself after 1 s: the device comes back
        back = await async_poll_until(temperature_once_back, lambda v: v is not None, 15, "A-104-th back")
        assert back is not None and -10 < back < 45

        # an MQTT fault on a running campus lands on the sensor's own topic
        before = len(rec.on("zigbee2mqtt/A-105-th"))
        await asyncio.to_thread(
            mqtt_publish.single,
            topic,
            fault_message("A-105-th", "burst", count=30),
            1,
            False,
            mosquitto.host,
            mosquitto.port,
        )
        await asyncio.to_thread(
            rec.wait_for, lambda m: sum(t == "zigbee2mqtt/A-105-th" for t, _ in m) >= before + 30
        )
        with pytest.raises(ValueError, match="Modbus device"):
            runner.inject("A-103-co2", "nan")
        assert runner.stats.encode_errors == 0 and runner.stats.model_steps > 0
    finally:
        stop.set()
        await task
        await runner.stop()


def test_cli_runs_writes_a_manifest_and_stops_on_sigterm(mosquitto: Mosquitto, tmp_path: Path) -> None:
    manifest, log = tmp_path / "m.json", tmp_path / "sim.log"
    metrics_port = free_port()
    stderr_file = log.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "campus_twin.cli",
            "sim",
            "run",
            "--campus",
            str(DEMO),
            "--broker",
            f"{mosquitto.host}:{mosquitto.port}",
            "--speed",
            "120",
            "--start",
            "2026-11-23T09:00",
            "--manifest",
            str(manifest),
            "--tick-s",
            "0.1",
            "--metrics-listen",
            f"127.0.0.1:{metrics_port}",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )

    def manifest_doc() -> dict[str, Any] | None:
        assert proc.poll() is None, f"sim exited: {log.read_text()}"
        try:
            doc = json.loads(manifest.read_text())
        except (OSError, ValueError):  # not written yet, or half-written
            return None
        return doc if isinstance(doc, dict) else None

    try:
        wait_until(lambda: manifest_doc() is not None, 30, "a complete manifest", every=0.1)
        doc = manifest_doc()
        assert doc is not None
        assert doc["site"] == "sz-demo-school" and doc["clock"]["speed"] == 120
        assert all(s["port"] for s in doc["servers"])
        # sim faults sends a control message the running campus applies
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "campus_twin.cli",
                "sim",
                "faults",
                "--manifest",
                str(manifest),
                "--device",
                "A-101-air",
                "--kind",
                "timeout",
                "--duration-s",
                "5",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert out.returncode == 0, out.stderr
        metrics = f"http://127.0.0.1:{metrics_port}/metrics"
        wait_until(
            lambda: scrape(metrics).get("campus_sim_faults_injected_total") == 1,
            15,
            "the fault applied",
            every=0.1,
        )
        assert "fault: A-101-air" in log.read_text()
        assert scrape(metrics)["campus_sim_tick_seconds_count"] > 0
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr_file.close()
    assert proc.returncode == 0, log.read_text()
    stats = json.loads(stdout.decode().strip().splitlines()[-1])
    assert stats["ticks"] > 0 and stats["modbus_points"] > 0 and stats["faults"] == 1
