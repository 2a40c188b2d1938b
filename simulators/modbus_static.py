"""A fast Modbus TCP slave serving a *static* register image, for load benchmarks.

`ModbusSimServer` (pymodbus's server, fault injection, values set in engineering units) costs
~1 ms of Python per request, so a benchmark that shares its process saturates the simulator
before the agent. This server answers FC3/FC4 reads straight from precomputed big-endian bytes
(the profile's initial values, encoded once by `SimDevice`), pipelined requests included, with
an asyncio `Protocol` and no per-request objects. Run it in its own process (several for more
capacity): `python -m simulators.modbus_static --profile FILE --units N` prints
`{"port": …}` on stdout once listening and serves until stdin closes or SIGTERM.

Unknown unit ids get exception 0x0B (gateway target failed to respond), an address outside the
image exception 2, other function codes exception 1: enough for a poller under load, nothing
more (faults and value changes live in `modbus_server.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import struct
import sys
from collections.abc import Mapping
from pathlib import Path

from device_profiles.loader import load_library, load_profile
from device_profiles.schema import DeviceProfile, Table
from simulators.modbus_server import SimDevice

_TABLE_OF_FC = {3: Table.HOLDING_REGISTER, 4: Table.INPUT_REGISTER}
_HEAD = struct.Struct(">HHHBBHH")  # tid, pid, length, unit, fc, address, count


class _Image:
    """One register table of one unit: its first address and the registers as big-endian bytes."""

    __slots__ = ("data", "start", "words")

    def __init__(self, start: int, data: bytes) -> None:
        self.start = start
        self.data = data
        self.words = len(data) // 2


def images(profile: DeviceProfile, units: range) -> dict[tuple[int, int], _Image]:
    """(unit id, function code) → register image, from the profile's initial values."""
    out: dict[tuple[int, int], _Image] = {}
    for unit in units:
        dev = SimDevice(unit, profile)
        for fc, table in _TABLE_OF_FC.items():
            mem = dev.memory.get(table)
            if mem is not None:
                out[unit, fc] = _Image(mem.start, mem.data.astype(">u2").tobytes())
    return out


class StaticModbusProtocol(asyncio.Protocol):
    """One client connection; answers every complete frame in the receive buffer at once."""

    def __init__(self, table: Mapping[tuple[int, int], _Image], counter: list[int]) -> None:
        self._table = table
        self._counter = counter
        self._buf = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        out: list[bytes] = []
        pos = 0
        while len(buf) - pos >= 12:
            length = (buf[pos + 4] << 8) | buf[pos + 5]
            end = pos + 6 + length
            if end > len(buf):
                break
            if length == 6:
                tid, pid, _, unit, fc, address, count = _HEAD.unpack_from(buf, pos)
                out.append(self._answer(tid, pid, unit, fc, address, count))
            pos = end
        self._buf = buf[pos:]
        self._counter[0] += len(out)
        if out and self._transport is not None:
            self._transport.write(b"".join(out))

    def _answer(self, tid: int, pid: int, unit: int, fc: int, address: int, count: int) -> bytes:
        img = self._table.get((unit, fc))
        if img is None:
            code = 0x0B if fc in _TABLE_OF_FC else 0x01
            return struct.pack(">HHHBBB", tid, pid, 3, unit, fc | 0x80, code)
        lo = address - img.start
        if lo < 0 or count < 1 or lo + count > img.words:
            return struct.pack(">HHHBBB", tid, pid, 3, unit, fc | 0x80, 0x02)
        body = img.data[2 * lo : 2 * (lo + count)]
        return struct.pack(">HHHBBB", tid, pid, 3 + 2 * count, unit, fc, 2 * count) + body


async def serve(profile: DeviceProfile, units: int, host: str, port: int) -> None:
    table = images(profile, range(1, units + 1))
    counter = [0]
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: StaticModbusProtocol(table, counter), host, port)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    stdin = sys.stdin.fileno()
    loop.add_reader(stdin, lambda: stop.set() if not os.read(stdin, 4096) else None)  # parent gone
    bound = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": bound}), flush=True)
    await stop.wait()
    server.close()
    with contextlib.suppress(BrokenPipeError):  # the parent may be gone already
        print(json.dumps({"requests": counter[0]}), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m simulators.modbus_static", description=__doc__)
    ap.add_argument("--profile", required=True, help="profile YAML file, or a library profile name")
    ap.add_argument("--units", type=int, default=247, help="unit ids 1..N")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    path = Path(args.profile)
    profile = load_profile(path) if path.suffix in (".yaml", ".yml") else load_library()[args.profile]
    asyncio.run(serve(profile, min(args.units, 247), args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
