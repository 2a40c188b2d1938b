"""The simulator serves profiles over real pymodbus TCP and RTU-over-TCP, and shows each fault."""

from __future__ import annotations

import logging

import pytest
from pymodbus import FramerType
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from device_profiles.codec import BlockDecoder
from device_profiles.loader import load_library
from device_profiles.planner import plan_profile
from simulators.modbus_faults import Fault
from simulators.modbus_server import ModbusSimServer, SimDevice

# starts Modbus/TCP servers or the CLI as a process: not part of the fast unit subset
pytestmark = pytest.mark.integration

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
LIB = load_library()


def _client(server: ModbusSimServer, received: list[bytes] | None = None) -> AsyncModbusTcpClient:
    def trace(sending: bool, data: bytes) -> bytes:
        if not sending and received is not None:
            received.append(data)
        return data

    return AsyncModbusTcpClient(
        "127.0.0.1",
        port=server.port,
        framer=FramerType.RTU if server.framer == "rtu" else FramerType.SOCKET,
        timeout=0.3,
        retries=0,
        reconnect_delay=0,
        trace_packet=trace,
    )


async def _read(client: AsyncModbusTcpClient, table: str, start: int, count: int, unit: int) -> list[int]:
    fn = {
        "holding_register": client.read_holding_registers,
        "input_register": client.read_input_registers,
        "coil": client.read_coils,
        "discrete_input": client.read_discrete_inputs,
    }[table]
    rr = await fn(start, count=count, device_id=unit)
    assert not rr.isError(), rr
    return list(rr.bits[:count]) if table in ("coil", "discrete_input") else list(rr.registers)


@pytest.mark.parametrize("framer", ["socket", "rtu"])
async def test_every_library_profile_serves_what_was_set(framer: str) -> None:
    devices = [SimDevice(i + 1, prof) for i, prof in enumerate(LIB.values())]
    async with ModbusSimServer(devices, framer=framer) as server:  # type: ignore[arg-type]
        client = _client(server)
        assert await client.connect()
        for dev in devices:
            values = {
                p.name: round(((p.valid_min or 0) + (p.valid_max if p.valid_max is not None else 500)) / 3, 1)
                for p in dev.profile.points
            }
            server.set_values(dev.unit_id, values)
            for req in plan_profile(dev.profile):
                block = await _read(client, req.table.value, req.start, req.count, dev.unit_id)
                points = [dev.profile.point(n) for n in req.points]
                for name, decoded in BlockDecoder(dev.profile, points, req.start).decode(block).items():
                    assert decoded.value == pytest.approx(
                        values[name], rel=1e-6, abs=dev.profile.point(name).scale
                    ), (
                        dev.profile.name,
                        name,
                    )
        client.close()


async def test_faults_are_observable_per_unit_and_clear() -> None:
    ws = LIB["renke-rs-ws-n01"]
    async with ModbusSimServer([SimDevice(1, ws), SimDevice(2, ws)], framer="rtu") as server:
        received: list[bytes] = []
        client = _client(server, received)
        assert await client.connect()

        server.set_fault(1, Fault("exception", code=2))
        rr = await client.read_holding_registers(0, count=2, device_id=1)
        assert rr.isError() and rr.exception_code == 2
        assert await _read(client, "holding_register", 0, 2, 2)  # unit 2 unaffected

        for kind, expect_bytes in (("timeout", False), ("garbled", True), ("short", True)):
            server.set_fault(1, Fault(kind))  # type: ignore[arg-type]
            received.clear()
            with pytest.raises(ModbusIOException):
                await client.read_holding_registers(0, count=2, device_id=1)
            assert bool(b"".join(received)) is expect_bytes, kind

        server.set_fault(1, None)
        assert await _read(client, "holding_register", 0, 2, 1)
        assert server.requests[1] >= 5
        client.close()


async def test_strict_device_rejects_reads_over_gaps_and_server_restarts_on_same_port() -> None:
    pm = LIB["renke-rs-pm-n01"]
    server = ModbusSimServer([SimDevice(3, pm, strict=True)])
    await server.start()
    port = server.port
    client = _client(server)
    assert await client.connect()
    rr = await client.read_holding_registers(4, count=6, device_id=3)  # spans undocumented 5..8
    assert rr.isError() and rr.exception_code == 2
    assert await _read(client, "holding_register", 9, 1, 3) == [500]
    await server.stop()
    client.close()
    assert not await client.connect()  # nobody listening
    await server.start()
    assert server.port == port
    assert await client.connect()
    assert await _read(client, "holding_register", 4, 1, 3) == [500]
    client.close()
    await server.stop()
