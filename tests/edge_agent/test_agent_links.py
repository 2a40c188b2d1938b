"""Shared physical links: devices behind one RTU-over-TCP converter or one Modbus TCP gateway use
one connection (counted at a proxy in front of the real pymodbus server) and keep polling while
one of them is silent; Modbus RTU over a real pseudo-terminal (socat pty ↔ the RTU simulator)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from device_profiles.loader import load_library
from edge_agent.samples import Sample
from edge_agent.sources.modbus.config import ModbusDevice
from edge_agent.sources.modbus.poller import ModbusPoller
from simulators.modbus_faults import Fault
from simulators.modbus_server import ModbusSimServer, SimDevice
from tests.edge_agent.tcp_proxy import TcpProxy

# starts Modbus/TCP servers or the CLI as a process: not part of the fast unit subset
pytestmark = pytest.mark.integration

LIB = load_library()
WS = LIB["renke-rs-ws-n01"]


async def _discard(samples: Sequence[Sample]) -> None:
    return None


async def until(pred: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def device(unit: int, transport: dict[str, Any], **kw: Any) -> ModbusDevice:
    return ModbusDevice.model_validate(
        {"id": f"R-{unit:02d}", "profile": WS.name, "unit_id": unit, "transport": transport, **kw}
    )


@pytest.mark.parametrize(
    ("framer", "kind", "extra", "connections"),
    [
        ("rtu", "rtu-over-tcp", {}, 1),
        ("socket", "tcp", {}, 1),
        ("socket", "tcp", {"max_connections": 2}, 2),
    ],
)
async def test_twenty_devices_share_a_link_and_survive_a_silent_one(
    framer: str, kind: str, extra: dict[str, Any], connections: int
) -> None:
    async with ModbusSimServer([SimDevice(u, WS) for u in range(1, 21)], framer=framer) as sim:  # type: ignore[arg-type]
        proxy = TcpProxy(sim.port)
        transport = {"type": kind, "host": "127.0.0.1", "port": proxy.port, **extra}
        devices = [device(u, transport, poll_interval_s=0.2, timeout_s=0.2, retries=0) for u in range(1, 21)]
        poller = ModbusPoller(devices, LIB, _discard, max_backoff_s=1.0)
        assert len(poller.buses) == connections
        stop = asyncio.Event()
        task = asyncio.create_task(poller.run(stop))
        try:
            health = poller.health()
            await until(lambda: all(h.polls_ok >= 2 for h in health.values()), 30, "every device polled")
            sim.set_fault(7, Fault("timeout"))
            await until(lambda: health["R-07"].state == "down", 10, "R-07 down")
            before = {d: h.polls_ok for d, h in health.items()}
            await until(
                lambda: all(h.polls_ok >= before[d] + 5 for d, h in health.items() if d != "R-07"),
                30,
                "the other 19 keep polling while R-07 is silent",
            )
            assert health["R-07"].last_reason == "timeout after 0.2s (no response)"
            assert proxy.accepted == connections, "one connection per configured link connection"
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
            proxy.close()


@pytest.fixture
def pty_line(tmp_path: Path) -> Iterator[tuple[Path, ModbusSimServer]]:
    """A pseudo-terminal whose other end is an RS485 line of two RTU slaves (socat pty ↔ TCP)."""
    loop = asyncio.new_event_loop()
    sim = ModbusSimServer([SimDevice(1, WS), SimDevice(2, WS)], framer="rtu")
    loop.run_until_complete(sim.start())
    import threading

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    link = tmp_path / "ttyV0"
    socat = subprocess.Popen(
        ["socat", f"pty,raw,echo=0,link={link}", f"tcp:127.0.0.1:{sim.port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not link.exists():
            assert time.monotonic() < deadline and socat.poll() is None, "socat pty did not appear"
            time.sleep(0.02)
        yield link, sim
    finally:
        socat.terminate()
        socat.wait(10)
        asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


async def test_rtu_on_a_pty_polls_and_reports_down_with_cause(pty_line: tuple[Path, ModbusSimServer]) -> None:
    link, sim = pty_line
    sim.set_values(1, {"temperature": 21.5, "humidity": 40.0})
    serial = {"type": "rtu", "port": str(link), "baudrate": 9600}
    devices = [device(u, serial, timeout_s=0.3, retries=0) for u in (1, 2)]
    poller = ModbusPoller(devices, LIB, _discard)
    try:
        got = {(s.device, s.point): s for s in await poller.poll_once()}
        assert got[("R-01", "temperature")].value == pytest.approx(21.5)
        assert got[("R-01", "humidity")].quality.value == "good"
        sim.set_fault(2, Fault("timeout"))
        await poller.poll_once()
        h = poller.health()["R-02"]
        assert h.state == "down" and h.last_reason == "timeout after 0.3s (no response)"
        assert h.last_hint == "check wiring, unit id, baud rate/parity"
        assert poller.health()["R-01"].state == "up"
    finally:
        poller.close()
    missing = ModbusPoller([device(1, {**serial, "port": str(link) + "-gone"})], LIB, _discard)
    await missing.poll_once()
    missing.close()
    reason = missing.health()["R-01"].last_reason or ""
    assert reason.endswith("ENOENT (No such file or directory)") and str(link) + "-gone" in reason
