"""Agent + real pymodbus simulator + real Mosquitto: polled values arrive upstream in canonical
units; a slave that stops answering yields bad-quality readings with a reason, never silence.
CLI `agent check/plan/probe` against the same simulator."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from campus_twin.servers import Mosquitto
from contract.telemetry import Quality
from edge_agent.config import load_agent_config
from edge_agent.runtime import Agent
from simulators.modbus_server import ModbusSimServer
from tests.edge_agent.agent_helpers import Collector, sim_devices, write_config
from tests.support.waiting import async_wait_until

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "campus-twin"


def modbus_yaml(port: int) -> str:
    return f"""modbus:
  - {{id: A-201-th, profile: renke-rs-ws-n01, transport: {{type: tcp, host: 127.0.0.1, port: {port}}}, unit_id: 1, poll_interval_s: 0.2, timeout_s: 0.3, retries: 0}}
  - {{id: A-201-em, profile: chint-ddsu666, transport: {{type: tcp, host: 127.0.0.1, port: {port}}}, unit_id: 2, poll_interval_s: 0.2, timeout_s: 0.3, retries: 0}}
"""


async def test_polled_values_arrive_and_dead_slave_is_reported(
    tmp_path: Path, make_mosquitto: Callable[..., Mosquitto]
) -> None:
    broker = make_mosquitto()
    col = Collector(broker.port)
    sim = ModbusSimServer(sim_devices())
    await sim.start()
    try:
        cfg = write_config(tmp_path / "a.yaml", broker.port, extra=modbus_yaml(sim.port))
        agent = Agent(load_agent_config(cfg))
        stop = asyncio.Event()
        task = asyncio.ensure_future(agent.run(stop, flush_timeout_s=5))
        await async_wait_until(
            lambda: bool(col.values("A-201-th", "temperature")) and bool(col.values("A-201-em", "energy")),
            20,
            "polled readings upstream",
        )
        assert col.values("A-201-th", "temperature")[0] == pytest.approx(23.4)
        assert col.values("A-201-th", "humidity")[0] == pytest.approx(55.0)
        assert col.values("A-201-em", "voltage")[0] == pytest.approx(229.5)
        await sim.stop()  # the whole Modbus TCP server goes away

        def bad() -> bool:
            return any(
                r.device == "A-201-th" and r.quality is Quality.BAD for b in col.batches for r in b.readings
            )

        await async_wait_until(bad, 20, "bad-quality readings while the slave is gone")
        reason = next(r.reason for b in col.batches for r in b.readings if r.quality is Quality.BAD)
        assert reason
        await sim.start()
        n_good = len([v for v in col.values("A-201-th", "temperature") if v is not None])
        await async_wait_until(
            lambda: len([v for v in col.values("A-201-th", "temperature") if v is not None]) > n_good,
            20,
            "recovery after the slave is back",
        )
        health = agent.health()
        assert "A-201-th" in health.devices
        stop.set()
        await asyncio.wait_for(task, 20)
    finally:
        await sim.stop()
        col.close()


@pytest.mark.integration
def test_cli_check_plan_probe(tmp_path: Path, sim_in_thread: ModbusSimServer) -> None:
    cfg = write_config(tmp_path / "a.yaml", 1883, extra=modbus_yaml(sim_in_thread.port))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(CLI), "agent", *args], capture_output=True, text=True, timeout=60)

    out = run("check", str(cfg))
    assert out.returncode == 0, out.stderr
    assert "config OK" in out.stdout and "A-201-th" in out.stdout and "A-201-em" in out.stdout
    plan = json.loads(run("plan", str(cfg), "--json").stdout)
    assert {d["device"] for d in plan} == {"A-201-th", "A-201-em"}
    assert all(d["requests"] for d in plan)
    probe = run("probe", str(cfg), "--device", "A-201-th", "--json")
    assert probe.returncode == 0, probe.stderr
    values = json.loads(probe.stdout)
    assert values["temperature"]["value"] == pytest.approx(23.4)
    bad = tmp_path / "bad.yaml"
    bad.write_text(cfg.read_text().replace("renke-rs-ws-n01", "no-such-profile"))
    out = run("check", str(bad))
    assert out.returncode == 2 and "unknown profile 'no-such-profile'" in out.stdout


async def test_device_down_and_up_once_each_in_log_and_metrics(
    tmp_path: Path, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import urllib.request

    from campus_twin.servers import free_port
    from simulators.modbus_faults import Fault

    sim = ModbusSimServer(sim_devices())
    await sim.start()
    port = free_port()
    cfg = write_config(tmp_path / "a.yaml", mosquitto.port, extra=modbus_yaml(sim.port))
    cfg.write_text(cfg.read_text().replace("  listen: null", f"  listen: 127.0.0.1:{port}"))
    agent = Agent(load_agent_config(cfg))
    stop = asyncio.Event()
    task = asyncio.ensure_future(agent.run(stop, flush_timeout_s=5))
    caplog.set_level(logging.INFO, logger="edge_agent")

    def scrape() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            return resp.read().decode()

    metrics = ""

    async def metric(line: str) -> bool:
        nonlocal metrics
        try:
            metrics = await asyncio.to_thread(scrape)
        except OSError:  # the endpoint is not listening yet
            return False
        return line in metrics

    async def until_metric(line: str, what: str) -> None:
        deadline = asyncio.get_running_loop().time() + 20
        while not await metric(line):
            assert asyncio.get_running_loop().time() < deadline, f"{what}: {line!r} not in\n{metrics}"
            await asyncio.sleep(0.1)

    def lines(word: str) -> list[str]:
        return [
            r.getMessage() for r in caplog.records if r.getMessage().startswith(f"device A-201-th {word}")
        ]

    try:
        up = 'campus_agent_device_up{device="A-201-th",protocol="modbus"} 1.0'
        await until_metric(up, "first good poll")
        sim.set_fault(1, Fault("timeout"))
        await until_metric('campus_agent_device_up{device="A-201-th",protocol="modbus"} 0.0', "device down")
        assert 'campus_agent_device_up{device="A-201-em",protocol="modbus"} 1.0' in metrics
        assert 'campus_agent_device_consecutive_failures{device="A-201-th",protocol="modbus"}' in metrics
        assert 'reason="timeout after 0.3s (no response)"' in metrics
        await async_wait_until(
            lambda: agent.poller.health()["A-201-th"].consecutive_failures >= 3, 20, "3 fails"
        )
        sim.set_fault(1, None)
        await until_metric(up, "device back up")
        assert lines("DOWN") == [
            "device A-201-th DOWN: timeout after 0.3s (no response); check the unit id and that the device is powered"
        ]
        assert len(lines("UP after")) == 1
        assert (
            'campus_agent_device_polls_total{device="A-201-th",outcome="failed",protocol="modbus"}' in metrics
        )
        health = agent.health().devices["A-201-th"]
        # back UP with every point good: the past reason no longer says what is wrong now
        assert health["up"] is True and health["last_reason"] is None and health["hint"] is None
        await until_metric(up, "metrics after UP")
        assert 'campus_agent_device_last_reason_info{device="A-201-th"' not in metrics
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await sim.stop()
