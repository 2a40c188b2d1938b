"""A Modbus slave simulator on pymodbus's asyncio server that serves any device profile.

One `ModbusSimServer` is one TCP port (a Modbus TCP device or gateway, or, with
`framer="rtu"`, an RS485 line behind an RTU-over-TCP converter) with any number of unit ids;
run as many servers as you like in one event loop. Values are set in engineering units and
encoded by the profile codec, so what a poller decodes is what was set. Faults are injected
per unit id (see `simulators.modbus_faults`).

pymodbus's own datastore (SimData/SimDevice) is bypassed: the server is given a small context
object with the same two async methods, which lets a request for a faulty unit go unanswered,
answer with any exception code, or arrive late, without patching pymodbus.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.pdu.mei_message import ReadDeviceInformationRequest, ReadDeviceInformationResponse
from pymodbus.pdu.other_message import ReportDeviceIdRequest, ReportDeviceIdResponse
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import SimData
from pymodbus.simulator import SimDevice as _PymodbusSimDevice

from device_profiles.codec import encode_point, encode_raw, merge_bit
from device_profiles.schema import TYPE_WORDS, DeviceProfile, IdentifyRegister, Point, RawType, Table
from simulators.modbus_faults import Fault, garble, shorten

Framer = Literal["socket", "rtu"]
_READ_TABLES = {1: Table.COIL, 2: Table.DISCRETE_INPUT, 3: Table.HOLDING_REGISTER, 4: Table.INPUT_REGISTER}
_WRITE_TABLES = {5: Table.COIL, 15: Table.COIL, 6: Table.HOLDING_REGISTER, 16: Table.HOLDING_REGISTER}


class _Memory:
    """One table of one device: values plus which addresses exist (others → exception 2)."""

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.data = np.zeros(end - start, dtype=np.uint16)
        self.valid = np.zeros(end - start, dtype=bool)

    def read(self, address: int, count: int) -> npt.NDArray[np.uint16] | None:
        lo, hi = address - self.start, address - self.start + count
        if lo < 0 or hi > len(self.data) or not self.valid[lo:hi].all():
            return None
        return self.data[lo:hi]


class SimDevice:
    """A simulated slave: a profile, a unit id and the current register contents.

    `strict=True` makes only the registers of defined points readable, like fussy devices that
    answer exception 2 to any read touching an undocumented register; by default a read over
    the gaps between points returns zeros (what most sensors do)."""

    def __init__(
        self,
        unit_id: int,
        profile: DeviceProfile,
        strict: bool = False,
        *,
        baudrate: int | None = None,
        device_id: Mapping[int, str] | None = None,
        server_id: bytes | None = None,
    ) -> None:
        if not 1 <= unit_id <= 247:
            raise ValueError(f"unit id {unit_id} outside 1..247")
        self.unit_id = unit_id
        self.profile = profile
        # FC 43/14 objects (0 vendor, 1 product code, 2 revision …) and the FC 17 answer; None: the
        # device does not implement the function and answers exception 1, as most sensors do
        self.device_id = dict(device_id) if device_id is not None else None
        self.server_id = server_id
        identify = profile.identify.registers if profile.identify else []
        spans: dict[Table, list[tuple[int, int]]] = {}
        for p in profile.points:
            a = profile.protocol_address(p)
            spans.setdefault(p.table, []).append((a, a + p.words))
        for r in identify:  # the vendor's identifying registers exist on the device too
            a = r.protocol_address
            spans.setdefault(r.table, []).append((a, a + TYPE_WORDS[r.type]))
        self.memory: dict[Table, _Memory] = {}
        for table, ranges in spans.items():
            mem = _Memory(min(a for a, _ in ranges), max(b for _, b in ranges))
            if strict:
                for a, b in ranges:
                    mem.valid[a - mem.start : b - mem.start] = True
            else:
                mem.valid[:] = True
            self.memory[table] = mem
        self.values: dict[str, float | str] = {}
        plausible = profile.identify.points if profile.identify and profile.identify.points else {}
        self.set_values({p.name: _initial(p, plausible.get(p.name)) for p in profile.points})
        for r in identify:
            mem = self.memory[r.table]
            offset = r.protocol_address - mem.start
            words = encode_raw([_identity_value(r, unit_id, baudrate)], r.type, r.byte_order or "ABCD")[0]
            mem.data[offset : offset + len(words)] = words

    def set_values(self, values: Mapping[str, float | str]) -> None:
        """Engineering values by point name; raises KeyError/EncodeError before changing anything."""
        encoded: list[tuple[Point, list[int]]] = [
            (self.profile.point(name), encode_point(self.profile, self.profile.point(name), v))
            for name, v in values.items()
        ]
        for point, words in encoded:
            mem = self.memory[point.table]
            offset = self.profile.protocol_address(point) - mem.start
            if point.type is RawType.BIT and point.bit is not None:
                mem.data[offset] = merge_bit(int(mem.data[offset]), point.bit, words[0])
            else:
                mem.data[offset : offset + len(words)] = words
        self.values.update(values)

    def read(self, function_code: int, address: int, count: int) -> list[int] | list[bool] | ExcCodes:
        table = _READ_TABLES.get(function_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        mem = self.memory.get(table)
        block = mem.read(address, count) if mem is not None else None
        if block is None:
            return ExcCodes.ILLEGAL_ADDRESS
        if table.is_bit:
            return [bool(x) for x in block]
        return [int(x) for x in block]

    def write(
        self, function_code: int, address: int, values: Sequence[int] | Sequence[bool]
    ) -> ExcCodes | None:
        table = _WRITE_TABLES.get(function_code)
        mem = self.memory.get(table) if table is not None else None
        if mem is None or mem.read(address, len(values)) is None:
            return ExcCodes.ILLEGAL_ADDRESS
        mem.data[address - mem.start : address - mem.start + len(values)] = [int(v) for v in values]
        return None


def _identity_value(register: IdentifyRegister, unit_id: int, baudrate: int | None) -> float:
    """What the device holds in an identifying register (its address, its baud code, its model code)."""
    if register.expect == "unit_id":
        return float(unit_id)
    if register.expect == "baud_code":
        codes = register.codes or {}
        return float(codes[baudrate] if baudrate in codes else next(iter(codes.values())))
    if register.values:
        return register.values[0]
    lo = register.min if register.min is not None else register.max or 0.0
    hi = register.max if register.max is not None else lo
    return (lo + hi) / 2


def _initial(point: Point, plausible: tuple[float, float] | None = None) -> float | str:
    if point.type is RawType.STRING:
        return ""
    if point.enum:
        return float(min(point.enum))
    lo, hi = plausible if plausible is not None else (point.valid_min, point.valid_max)
    if lo is not None and hi is not None:
        return (lo + hi) / 2
    return lo if lo is not None else 0.0


class _Context:
    """Duck-types pymodbus's datastore: the server awaits these two methods per request."""

    def __init__(self, owner: ModbusSimServer) -> None:
        self._owner = owner

    def device_ids(self) -> list[int]:
        return list(self._owner.devices)

    async def _gate(self, device_id: int) -> SimDevice | ExcCodes:
        self._owner.requests[device_id] = self._owner.requests.get(device_id, 0) + 1
        device = self._owner.devices.get(device_id)
        fault = self._owner.faults.get(device_id)
        if device is None or (fault is not None and fault.kind == "timeout"):
            raise NoSuchIdException(f"unit {device_id} does not answer")  # server stays silent
        if fault is not None and fault.kind == "exception":
            return ExcCodes(fault.code)
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.delay_s)
        return device

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        device = await self._gate(device_id)
        return device if isinstance(device, ExcCodes) else device.read(func_code, address, count)

    async def async_setValues(
        self, device_id: int, func_code: int, address: int, values: list[int] | list[bool]
    ) -> ExcCodes | None:
        self._owner.writes += 1
        device = await self._gate(device_id)
        return device if isinstance(device, ExcCodes) else device.write(func_code, address, values)


_BASIC_OBJECTS = {1: range(0, 3), 2: range(0, 7), 3: range(0, 256)}  # FC 43/14 read codes


class _DeviceInfoRequest(ReadDeviceInformationRequest):
    """FC 43/14 answered from the addressed unit's `device_id` (pymodbus answers every unit id
    with one process-wide identity, even an absent one)."""

    async def datastore_update(self, context: Any, device_id: int) -> ModbusPDU:
        device = await context._gate(device_id)
        if isinstance(device, ExcCodes):
            return ExceptionResponse(self.function_code, device)
        if device.device_id is None:
            return ExceptionResponse(self.function_code, ExcCodes.ILLEGAL_FUNCTION)
        wanted = _BASIC_OBJECTS.get(self.read_code, range(self.object_id, self.object_id + 1))
        info = {k: v.encode() for k, v in sorted(device.device_id.items()) if k in wanted}
        if not info:
            return ExceptionResponse(self.function_code, ExcCodes.ILLEGAL_ADDRESS)
        return ReadDeviceInformationResponse(
            read_code=self.read_code, information=info, dev_id=device_id, transaction_id=self.transaction_id
        )


class _ServerIdRequest(ReportDeviceIdRequest):
    """FC 17 answered from the addressed unit's `server_id`, exception 1 when it has none."""

    async def datastore_update(self, context: Any, device_id: int) -> ModbusPDU:
        device = await context._gate(device_id)
        if isinstance(device, ExcCodes):
            return ExceptionResponse(self.function_code, device)
        if device.server_id is None:
            return ExceptionResponse(self.function_code, ExcCodes.ILLEGAL_FUNCTION)
        return ReportDeviceIdResponse(
            identifier=device.server_id, dev_id=device_id, transaction_id=self.transaction_id
        )


def _own_identity(sending: bool, pdu: ModbusPDU) -> ModbusPDU:
    """Swap pymodbus's FC 43/14 and FC 17 requests for ones that ask the addressed unit."""
    if sending:
        return pdu
    if isinstance(pdu, ReadDeviceInformationRequest):
        return _DeviceInfoRequest(pdu.read_code, pdu.object_id, pdu.dev_id, pdu.transaction_id)
    if isinstance(pdu, ReportDeviceIdRequest):
        return _ServerIdRequest(dev_id=pdu.dev_id, transaction_id=pdu.transaction_id)
    return pdu


class ModbusSimServer:
    """One listening port serving many unit ids.

    `framer="rtu"` speaks RTU frames (with CRC) over TCP, i.e. an RS485 line behind a
    serial-device server, so the poller's RTU path is exercised without serial hardware."""

    def __init__(
        self, devices: Iterable[SimDevice], host: str = "127.0.0.1", port: int = 0, framer: Framer = "socket"
    ) -> None:
        self.devices: dict[int, SimDevice] = {}
        for d in devices:
            if d.unit_id in self.devices:
                raise ValueError(f"unit id {d.unit_id} is used twice on one server")
            self.devices[d.unit_id] = d
        self.host = host
        self.framer: Framer = framer
        self.faults: dict[int, Fault] = {}
        self.requests: dict[int, int] = {}  # requests seen per unit id (to observe retries/backoff)
        self.writes = 0  # write requests seen (discovery must never send one)
        self._port = port
        self._server: ModbusTcpServer | None = None

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("server not started")
        return self._port

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Listen (again, on the same port after a stop, so clients can reconnect)."""
        if self._server is not None:
            return
        placeholder = _PymodbusSimDevice(0, simdata=[SimData(0, values=0)])
        server = ModbusTcpServer(
            placeholder,
            framer=FramerType.RTU if self.framer == "rtu" else FramerType.SOCKET,
            address=(self.host, self._port),
            ignore_missing_devices=True,
            trace_packet=self._trace_packet,
            trace_pdu=_own_identity,
        )
        server.context = _Context(self)  # type: ignore[assignment]
        await server.serve_forever(background=True)
        listener: Any = server.transport  # an asyncio.Server once listening
        if listener is None:
            raise OSError(f"cannot listen on {self.host}:{self._port}")
        self._port = listener.sockets[0].getsockname()[1]
        self._server = server

    async def stop(self) -> None:
        """Close the listener and every client connection (the whole device/gateway goes away)."""
        server, self._server = self._server, None
        if server is None:
            return
        await server.shutdown()
        listener: Any = server.transport
        if listener is not None and hasattr(listener, "wait_closed"):
            await asyncio.wait_for(listener.wait_closed(), 2.0)

    def set_values(self, unit_id: int, values: Mapping[str, float | str]) -> None:
        self.devices[unit_id].set_values(values)

    def set_fault(self, unit_id: int, fault: Fault | None) -> None:
        if unit_id not in self.devices:
            raise KeyError(f"no unit {unit_id} on this server")
        if fault is None:
            self.faults.pop(unit_id, None)
        else:
            self.faults[unit_id] = fault

    def _trace_packet(self, sending: bool, packet: bytes) -> bytes:
        if not sending or not packet or not self.faults:
            return packet
        rtu = self.framer == "rtu"
        unit = packet[0] if rtu else (packet[6] if len(packet) > 6 else -1)
        fault = self.faults.get(unit)
        if fault is None:
            return packet
        if fault.kind == "garbled":
            return garble(packet, rtu)
        if fault.kind == "short":
            return shorten(packet)
        return packet

    async def __aenter__(self) -> ModbusSimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
