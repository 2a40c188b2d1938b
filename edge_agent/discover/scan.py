"""The I/O of discovery: probe unit ids at each line setting, then read each answering unit's
fingerprint requests. Only reads (FC 1–4), FC 17 and FC 43/14 are sent: never a write.

Each request is bounded by `timeout_s` (pymodbus's own timeout, and `asyncio.wait_for` as a
backstop), so the bounds `lines.estimate` printed hold. A unit id found at one setting is not
probed again at later settings of the same line (a device that ignores parity would otherwise
be listed once per parity).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import termios
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.pdu import ModbusPDU
from pymodbus.pdu.mei_message import ReadDeviceInformationRequest
from pymodbus.pdu.other_message import ReportDeviceIdRequest
from pymodbus.pdu.register_message import ReadHoldingRegistersRequest, ReadInputRegistersRequest

from device_profiles.schema import Table
from edge_agent.discover.fingerprint import Answer, Key, Observation
from edge_agent.discover.lines import Line, Setting, connect_bound_s, probe_bound_s
from edge_agent.os_errors import os_error_reason

ABSENT_EXCEPTIONS = (10, 11)  # a TCP gateway's "no such unit behind me"
Progress = Callable[[str], None]


@dataclass
class Found:
    setting: Setting
    observation: Observation


@dataclass
class ScanResult:
    found: list[Found] = field(default_factory=list)
    probes: int = 0
    per_setting_s: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


class SettingRefused(Exception):
    """The port cannot be set to this setting (skipped, the scan goes on)."""


class _Link:
    """One pymodbus client at one setting; reopened after a lost connection."""

    def __init__(self, line: Line, setting: Setting, timeout_s: float) -> None:
        self.line, self.setting, self.timeout_s = line, setting, timeout_s
        self.client: AsyncModbusSerialClient | AsyncModbusTcpClient | None = None

    def _make(self) -> AsyncModbusSerialClient | AsyncModbusTcpClient:
        common: dict[str, Any] = {"timeout": self.timeout_s, "retries": 0, "reconnect_delay": 0}
        if self.line.type == "rtu":
            return AsyncModbusSerialClient(
                self.line.port,
                framer=FramerType.RTU,
                baudrate=self.setting.baudrate or 9600,
                parity=self.setting.parity or "N",
                stopbits=1,
                bytesize=8,
                **common,
            )
        framer = FramerType.RTU if self.line.type == "rtu-over-tcp" else FramerType.SOCKET
        return AsyncModbusTcpClient(self.line.host, port=self.line.tcp_port, framer=framer, **common)

    async def connect(self) -> None:
        self.close()
        client = self._make()
        client.set_max_no_responses(1_000_000)  # silent unit ids are the norm during a scan
        try:
            ok = await asyncio.wait_for(client.connect(), connect_bound_s(self.timeout_s))
        except termios.error as exc:  # e.g. a pty refuses parity: the port cannot do this setting
            client.close()
            raise SettingRefused(f"{self.line} refuses {self.setting}: {exc.args[-1]}") from None
        if not ok:
            client.close()
            where = f"{self.line} at {self.setting}" if self.line.type == "rtu" else str(self.line)
            raise ConnectionError(f"cannot open {where}: {await self._cause()}")
        self.client = client

    async def _cause(self) -> str:
        """pymodbus only says "not connected"; try once ourselves to learn the OS error."""
        try:
            if self.line.type == "rtu":
                os.close(os.open(self.line.port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK))
                return "the port opens but refused the serial settings"
            _, writer = await asyncio.wait_for(asyncio.open_connection(self.line.host, self.line.tcp_port), 2)
            writer.close()
            return "connected on a second try (flaky link?)"
        except TimeoutError:
            return "connect timed out"
        except OSError as exc:
            return os_error_reason(exc)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    async def ask(self, pdu: ModbusPDU) -> ModbusPDU | None:
        """The response PDU (data or exception), or None when nothing valid came back in time."""
        if self.client is None or not self.client.connected:
            await self.connect()
        assert self.client is not None
        try:
            return await asyncio.wait_for(self.client.execute(False, pdu), probe_bound_s(self.timeout_s))
        except ConnectionException:
            self.close()
            return None
        except (ModbusException, TimeoutError):
            if self.client is not None and not self.client.connected:
                self.close()
            return None


def _read_pdu(key: Key, unit: int) -> ModbusPDU:
    table, start, count = key
    cls = ReadHoldingRegistersRequest if table is Table.HOLDING_REGISTER else ReadInputRegistersRequest
    return cls(address=start, count=count, dev_id=unit)


def _answer(response: ModbusPDU | None, count: int) -> Answer:
    if response is None:
        return Answer()
    if response.isError():
        return Answer(exception=int(getattr(response, "exception_code", 0)))
    registers = list(response.registers)
    return Answer(words=tuple(registers)) if len(registers) == count else Answer()


async def probe(link: _Link, unit: int) -> bool:
    """Is a unit at this id? Any answer but a gateway's "absent" exception says yes."""
    a = _answer(await link.ask(_read_pdu((Table.HOLDING_REGISTER, 0, 1), unit)), 1)
    return a.words is not None or (a.exception is not None and a.exception not in ABSENT_EXCEPTIONS)


async def identify(
    link: _Link, unit: int, setting: Setting, reads: Sequence[Key], budget_s: float | None = None
) -> Observation:
    """FC 43/14, FC 17, then every fingerprint read; within `budget_s` (the share the printed
    bound gives one unit): a read that would start past it is left out (no answer, no evidence)."""
    deadline = None if budget_s is None else time.monotonic() + budget_s
    obs = Observation(unit, setting.baudrate)
    response = await link.ask(ReadDeviceInformationRequest(read_code=1, object_id=0, dev_id=unit))
    if response is None:
        obs.device_id_status = "no answer"
    elif response.isError():
        obs.device_id_status = f"exception {getattr(response, 'exception_code', 0)}"
    else:
        info: dict[int, Any] = getattr(response, "information", {})
        obs.device_id = {
            k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)) for k, v in info.items()
        }
        obs.device_id_status = "answered"
    response = await link.ask(ReportDeviceIdRequest(dev_id=unit))
    if response is None:
        obs.server_id_status = "no answer"
    elif response.isError():
        obs.server_id_status = f"exception {getattr(response, 'exception_code', 0)}"
    else:
        obs.server_id = bytes(getattr(response, "identifier", b""))
        obs.server_id_status = "answered"
    for key in reads:
        if deadline is not None and time.monotonic() + probe_bound_s(link.timeout_s) > deadline:
            break  # e.g. a reconnect ate the unit's share of the bound
        obs.reads[key] = _answer(await link.ask(_read_pdu(key, unit)), key[2])
    return obs


async def scan(
    line: Line,
    settings: Sequence[Setting],
    units: Sequence[int],
    timeout_s: float,
    reads: Sequence[Key],
    progress: Progress,
) -> ScanResult:
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # a silent unit id is no error here
    result = ScanResult()
    taken: set[int] = set()
    for setting in settings:
        started = time.monotonic()
        tag = str(setting) if setting.baudrate else str(line)
        link = _Link(line, setting, timeout_s)
        try:
            await link.connect()
        except SettingRefused as exc:
            progress(f"{tag}: skipped, {exc}")
            result.skipped.append(str(exc))
            continue
        except (ConnectionError, OSError, TimeoutError):
            raise
        try:
            todo = [u for u in units if u not in taken]
            hits = []
            for i, unit in enumerate(todo, 1):
                result.probes += 1
                if await probe(link, unit):
                    hits.append(unit)
                    progress(f"{tag}: unit {unit} answers")
                if i % 25 == 0 or i == len(todo):
                    progress(f"{tag}: {i}/{len(todo)} unit ids probed, {len(hits)} answering")
            for k, unit in enumerate(hits, 1):
                progress(f"{tag}: identifying unit {unit} ({k}/{len(hits)})")
                obs = await identify(link, unit, setting, reads, (len(reads) + 2) * probe_bound_s(timeout_s))
                result.found.append(Found(setting, obs))
                taken.add(unit)
        finally:
            link.close()
            with contextlib.suppress(Exception):
                await asyncio.sleep(0)  # let pymodbus finish closing the port
        result.per_setting_s[str(setting)] = time.monotonic() - started
    return result
