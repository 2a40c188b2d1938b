"""The Modbus poller: one scheduler per bus, planned block reads, samples stamped at read time.

Scheduling. Devices are grouped by their physical link (`ModbusDevice.link_key()`). On an
RS485 line (a serial port or an RTU-over-TCP converter) only one request may be in flight, so
its devices share one task and one connection and are polled in deadline order. Devices behind
one Modbus TCP host:port (a gateway) share `max_connections` connections (default 1), each with
its own task; different links run concurrently. `inter_request_delay_s` spaces requests on a
connection for slow converters. A dead slave therefore delays nobody on another link, and on
its own line costs one timeout (× attempts) per try, less and less often (backoff).

Cycles. The devices of one line with the same interval share a due time, so the line wakes
once per cycle and polls them back to back (what a serial master does anyway); lines start
their cycles spread over the first second. A cycle's samples go to the sink in one hand-over
at its end (or after `HOLD_MAX_S` on a slow line): per request the poller pays the socket and
pymodbus, not a timer, a task and a disk transaction as well. Each request's PDU is built once.

Failure handling. A timeout, garbled or short answer, CRC error or lost connection turns
every point of the failed request into a `bad` sample with the precise reason; a Modbus
exception does too, but proves the device alive. A device that did not answer at all goes
into exponential backoff (poll interval × 2^n, capped), so it is retried less and less often
but always retried: when it answers again it is back to its normal interval. A connection
that breaks is closed and opened again on the next request, never reused half-dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.pdu import ModbusPDU
from pymodbus.pdu.bit_message import ReadCoilsRequest, ReadDiscreteInputsRequest
from pymodbus.pdu.register_message import ReadHoldingRegistersRequest, ReadInputRegistersRequest

from contract.clock import Clock, WallClock
from contract.quantities import significant_step
from contract.telemetry import Quality
from device_profiles.codec import BlockDecoder, Decoded
from device_profiles.planner import ReadRequest, plan_profile
from device_profiles.schema import DeviceProfile, PlanLimits, Point, RawType, Table
from edge_agent.device_health import DeviceHealth
from edge_agent.os_errors import os_error_reason, serial_error_reason, serial_settings
from edge_agent.samples import Sample, SampleSink
from edge_agent.sources.modbus.config import ModbusDevice, RtuOverTcpTransport, RtuTransport, TcpTransport
from edge_agent.sources.modbus.errors import exception_reason, hint, no_answer_reason
from edge_agent.supervise import Supervisor, join

log = logging.getLogger(__name__)

DeviceState = Literal["pending", "ok", "backoff", "disabled"]
MAX_WAITING_SAMPLES = 2_000  # samples a line holds while the sink is busy, then it waits (bounds RSS)
OVERLOAD_LATE_RATIO = 0.25  # polls late by this share of their interval on average: overloaded
OVERLOAD_DWELL_S = 10.0  # an overloaded/keeps-up change holds at least this long
SINK_DRAIN_S = 2.0  # at stop: longest wait for the last hand-over to the sink
HOLD_MAX_S = 0.05  # a line hands its samples over at the end of a cycle, or after this at most
LINE_RESTART_MIN_S, LINE_RESTART_MAX_S = 1.0, 60.0  # backoff of a line whose task failed


@dataclass
class DeviceStats:
    """Per-device health, published in the agent's health report."""

    polls_ok: int = 0
    polls_failed: int = 0
    last_ok_ts: int | None = None
    state: DeviceState = "pending"
    last_error: str | None = None
    consecutive_failures: int = 0
    requests: int = 0
    next_poll_in_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Device:
    config: ModbusDevice
    profile: DeviceProfile
    plan: list[ReadRequest]
    decoders: list[BlockDecoder]
    points: dict[str, Point]
    stats: DeviceStats = field(default_factory=DeviceStats)
    next_due: float = 0.0  # monotonic seconds
    health: DeviceHealth = field(init=False)
    meta: dict[str, _PointMeta | None] = field(init=False)
    pdus: list[ModbusPDU] = field(init=False)

    def __post_init__(self) -> None:
        self.health = DeviceHealth(self.config.id, "modbus")
        self.meta = {name: _point_meta(p) for name, p in self.points.items()}
        # built once and sent again every poll (pymodbus renumbers the transaction id per send)
        self.pdus = [_pdu(r, self.config.unit_id) for r in self.plan]


class _Failure(Exception):
    """A request that produced no data; `alive` if the device answered (exception code)."""

    def __init__(self, reason: str, alive: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.alive = alive


Planner = Callable[[DeviceProfile, PlanLimits | None], list[ReadRequest]]


def build_device(
    config: ModbusDevice, profiles: Mapping[str, DeviceProfile], planner: Planner = plan_profile
) -> _Device:
    profile = profiles.get(config.profile)
    if profile is None:
        known = ", ".join(sorted(profiles)) or "none loaded"
        raise ValueError(f"device {config.id!r}: unknown profile {config.profile!r} (known: {known})")
    plan = planner(profile, config.planner)
    points = {p.name: p for p in profile.points}
    decoders = [BlockDecoder(profile, [points[n] for n in r.points], r.start) for r in plan]
    return _Device(config, profile, plan, decoders, points)


class _Bus:
    """One connection and the devices that must take turns on it."""

    def __init__(self, key: str, devices: list[_Device], clock: Clock, max_backoff_s: float) -> None:
        self.key = key
        self.devices = devices
        self.clock = clock
        self.max_backoff_s = max_backoff_s
        transport = devices[0].config.transport
        self.transport = transport
        self.rtu = not isinstance(transport, TcpTransport)
        self.client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None
        self._rx = bytearray()
        self._gap_s = transport.inter_request_delay_s
        self.overloaded = False
        self.effective_interval_s = 0.0
        self._late_ratio = 0.0  # moving average of (poll start - due) / interval
        self._overload_since = -OVERLOAD_DWELL_S  # monotonic time of the last overload change
        self._last_request = 0.0
        self.phase = 0.0  # share of the first interval before this line's first cycle

    # ------------------------------------------------------------ connection

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            self._rx += data
        return data

    def _make_client(self, timeout_s: float) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        t = self.transport
        common: dict[str, Any] = {
            "timeout": timeout_s,
            "retries": 0,
            "reconnect_delay": 0,
            "trace_packet": self._trace,
        }
        if isinstance(t, RtuTransport):
            return AsyncModbusSerialClient(
                t.port,
                framer=FramerType.RTU,
                baudrate=t.baudrate,
                parity=t.parity,
                stopbits=t.stopbits,
                bytesize=t.bytesize,
                **common,
            )
        framer = FramerType.RTU if isinstance(t, RtuOverTcpTransport) else FramerType.SOCKET
        return AsyncModbusTcpClient(t.host, port=t.port, framer=framer, **common)

    def _where(self) -> str:
        t = self.transport
        return t.port if isinstance(t, RtuTransport) else f"{t.host}:{t.port}"

    async def _connected(self, timeout_s: float) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        if self.client is not None and self.client.connected:
            return self.client
        self.close()
        client = self._make_client(timeout_s)
        # one dead slave must not make pymodbus drop a line the healthy slaves share
        client.set_max_no_responses(1_000_000)
        try:
            connected = await client.connect()
        except Exception as exc:  # termios.error (EINVAL: settings refused), SerialException, OSError
            client.close()
            raise _Failure(self._open_error(exc), alive=False) from None
        if not connected:
            client.close()
            cause = await self._connect_cause(timeout_s)
            if cause.startswith("serial port "):  # a whole sentence already (settings refused)
                raise _Failure(cause, alive=False)
            raise _Failure(f"cannot connect to {self._where()}: {cause}", alive=False)
        self.client = client
        return client

    def _open_error(self, exc: BaseException) -> str:
        """A connect that raised instead of returning False: a serial port whose driver refuses
        the settings raises `termios.error` (errno 22) from pyserial, which is no OSError."""
        t = self.transport
        if isinstance(t, RtuTransport):
            settings = serial_settings(t.baudrate, t.bytesize, t.parity, t.stopbits)
            return serial_error_reason(exc, t.port, settings)
        if isinstance(exc, OSError):
            return f"cannot connect to {self._where()}: {os_error_reason(exc)}"
        return f"cannot connect to {self._where()}: {type(exc).__name__}: {exc}"

    def _serial_cause(self, t: RtuTransport) -> str:
        """The port opens: configure it as pymodbus would, to say which setting the driver refuses
        (pymodbus sometimes reports a refused `tcsetattr` only as "not connected")."""
        import serial  # pyserial, the [agent] extra (pymodbus' serial transport uses it)

        try:
            serial.Serial(
                t.port,
                baudrate=t.baudrate,
                parity=t.parity,
                stopbits=t.stopbits,
                bytesize=t.bytesize,
                timeout=0,
            ).close()
        except Exception as exc:  # termios.error (EINVAL), SerialException
            return self._open_error(exc)
        return "port opens with these settings, but the Modbus client could not connect"

    def mark_down(self, reason: str) -> None:
        """Every device of a line whose task failed: DOWN with the cause (one line per device)."""
        for d in self.devices:
            if d.config.enabled:
                line = d.health.record(self.clock.now_ns(), False, (), 0, reason, None)
                if line is not None:
                    log.warning(line)

    async def _connect_cause(self, timeout_s: float) -> str:
        """pymodbus only says "not connected"; try once more ourselves to learn the OS error."""
        t = self.transport
        try:
            if isinstance(t, RtuTransport):
                fd = os.open(t.port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
                os.close(fd)
                return self._serial_cause(t)
            _, writer = await asyncio.wait_for(asyncio.open_connection(t.host, t.port), timeout_s)
            writer.close()
            return "connected on a second try (flaky link?)"
        except TimeoutError:
            return f"connect timed out after {timeout_s:g}s"
        except OSError as exc:
            return os_error_reason(exc)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    # ------------------------------------------------------------ reading

    async def read(self, device: _Device, request: ReadRequest, pdu: ModbusPDU) -> list[int] | list[bool]:
        """One request with the device's retries; raises _Failure with the reason."""
        cfg = device.config
        reason = ""
        for _attempt in range(cfg.retries + 1):
            client = await self._connected(cfg.timeout_s)
            client.ctx.comm_params.timeout_connect = cfg.timeout_s  # per device on a shared line
            if self._gap_s:
                wait = self._gap_s - (time.monotonic() - self._last_request)
                if wait > 0:
                    await asyncio.sleep(wait)
            self._rx.clear()
            device.stats.requests += 1
            try:
                response = await client.execute(False, pdu)
            except ConnectionException:
                self.close()
                reason = f"connection to {self._where()} lost"
                continue
            except ModbusException as exc:
                reason = no_answer_reason(bytes(self._rx), self.rtu, cfg.timeout_s)
                if "device id" in str(exc):
                    reason = f"answer from the wrong unit id ({exc})"
                if self.client is not None and not self.client.connected:
                    self.close()  # e.g. an undecodable TCP frame made pymodbus drop the socket
                continue
            finally:
                self._last_request = time.monotonic()
            if response.isError():
                raise _Failure(exception_reason(int(getattr(response, "exception_code", 0))), alive=True)
            if request.table.is_bit:
                return list(response.bits[: request.count])
            registers = list(response.registers)
            if len(registers) != request.count:
                reason = f"response has {len(registers)} registers, asked for {request.count}"
                continue
            return registers
        raise _Failure(reason, alive=False)

    async def poll(self, device: _Device) -> list[Sample]:
        """Every request of the device's plan; returns one sample per numeric point."""
        samples: list[Sample] = []
        failures: list[_Failure] = []
        answered = 0
        dead = False
        for request, decoder, pdu in zip(device.plan, device.decoders, device.pdus, strict=True):
            if dead:
                ts = self.clock.now_ns()
                samples += _bad(device, request, ts, f"skipped: {failures[-1].reason} on an earlier request")
                continue
            try:
                block = await self.read(device, request, pdu)
            except _Failure as failure:
                failures.append(failure)
                samples += _bad(device, request, self.clock.now_ns(), failure.reason)
                dead = not failure.alive
                continue
            ts = self.clock.now_ns()  # stamped when the answer arrived, not when sent upstream
            answered += 1
            meta = device.meta
            for name, decoded in decoder.decode(block).items():
                m = meta[name]
                if m is not None:
                    samples.append(_sample(device.config.id, m, decoded, ts))
        alive = answered > 0 or any(f.alive for f in failures)
        self._account(device, failures, alive)
        self._note_health(device, samples, failures, alive)
        return samples

    def _note_health(
        self, device: _Device, samples: list[Sample], failures: list[_Failure], alive: bool
    ) -> None:
        bad = [s.point for s in samples if s.quality is Quality.BAD]
        reason = failures[-1].reason if failures else next((s.reason for s in samples if s.reason), None)
        line = device.health.record(
            self.clock.now_ns(),
            alive,
            bad,
            len(samples),
            reason if (failures or bad) else None,
            hint(reason, self.rtu) if reason else None,
        )
        if line is not None:
            (log.info if device.health.up else log.warning)(line)

    def _account(self, device: _Device, failures: list[_Failure], alive: bool) -> None:
        s = device.stats
        now = time.monotonic()
        interval = device.config.poll_interval_s
        if not failures:
            s.polls_ok += 1
            s.last_ok_ts = self.clock.now_ns()
            s.state, s.consecutive_failures, s.last_error = "ok", 0, None
            device.next_due = max(device.next_due + interval, now)
            return
        s.polls_failed += 1
        s.last_error = failures[-1].reason
        if alive:  # it answered something (data or an exception code): keep the normal rhythm
            s.state, s.consecutive_failures = "ok", 0
            device.next_due = max(device.next_due + interval, now)
            return
        s.consecutive_failures += 1
        s.state = "backoff"
        delay = min(interval * 2 ** (s.consecutive_failures - 1), max(self.max_backoff_s, interval))
        device.next_due = now + delay

    # ------------------------------------------------------------ scheduling

    async def run(self, stop: asyncio.Event, sink: SampleSink, on_sink_error: Any) -> None:
        """Poll in deadline order. Samples go to the sink while the line polls on: one sink call
        in flight per line, samples that arrive meanwhile join the next call (so the disk's fsync
        never paces the line, and the agent's group commit merges lines)."""
        start = time.monotonic()
        for d in self.devices:  # devices of one interval share a due time: one wake-up per cycle
            d.next_due = start + min(d.config.poll_interval_s, 1.0) * self.phase
        waiting: list[Sample] = []
        waiting_since = 0.0
        inflight: asyncio.Future[None] | None = None
        ids: list[str] = []  # devices of the samples waiting
        inflight_ids: list[str] = []  # devices of the samples in the sink call (named if it fails)
        group_due, group_late = -1.0, 0.0

        def settle() -> None:
            nonlocal inflight
            if inflight is not None and inflight.done():
                exc = inflight.exception()
                if exc is not None:  # the sink's problem must not stop polling
                    on_sink_error(",".join(sorted(set(inflight_ids))), exc)
                inflight = None

        def hand_over() -> None:
            nonlocal inflight, waiting, ids, inflight_ids
            settle()
            if inflight is None and waiting:
                inflight = asyncio.ensure_future(sink(waiting))
                waiting, ids, inflight_ids = [], [], ids

        stopper = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                device = min(self.devices, key=lambda d: d.next_due)
                delay = device.next_due - time.monotonic()
                if delay > 0:
                    hand_over()
                    wake: set[asyncio.Future[Any]] = {stopper}
                    if inflight is not None:
                        wake.add(inflight)
                    # not asyncio.wait_for: on Python 3.11 it can swallow a cancellation, which
                    # once hung the agent's stop; one stop waiter per line, not one per sleep
                    await asyncio.wait(wake, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
                    continue
                # devices due together are one cycle: each is as late as the cycle's start
                # (the last of 20 is not "late" for waiting for the 19 before it on its line)
                if device.next_due != group_due:
                    group_due, group_late = device.next_due, -delay
                self._note_lateness(device, group_late)
                samples = await self.poll(device)
                now = time.monotonic()
                device.stats.next_poll_in_s = round(max(device.next_due - now, 0.0), 3)
                if samples:
                    if not waiting:
                        waiting_since = now
                    waiting += samples
                    ids.append(device.config.id)
                    if len(waiting) >= MAX_WAITING_SAMPLES and inflight is not None:
                        await asyncio.wait({inflight})  # back-pressure: the disk is the limit
                    # one hand-over per cycle (before sleeping, above), unless the cycle is long
                    if len(waiting) >= MAX_WAITING_SAMPLES or now - waiting_since >= HOLD_MAX_S:
                        hand_over()
        finally:
            stopper.cancel()
            if inflight is not None:
                await asyncio.wait({inflight}, timeout=SINK_DRAIN_S)
                settle()
            if waiting:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(sink(waiting), SINK_DRAIN_S)
            self.close()

    def _note_lateness(self, device: _Device, late_s: float) -> None:
        """Overload: polls start late, on average by more than a quarter of their interval (the
        link delivers under ~80 % of its demand), or one starts a whole interval late. The
        schedule never bursts to catch up (`next_due` moves on from now), so the effective rate
        drops; say so once per change, and show the interval in force in /metrics."""
        interval = device.config.poll_interval_s
        ratio = min(late_s / interval, 10.0)
        self._late_ratio = 0.9 * self._late_ratio + 0.1 * ratio
        effective = interval * (1 + max(self._late_ratio, ratio if ratio > 1 else 0.0))
        now = time.monotonic()
        if now - self._overload_since < OVERLOAD_DWELL_S:
            if self.overloaded:
                self.effective_interval_s = interval * (1 + self._late_ratio)
            return  # one change per dwell: a link at its limit must not flap in the log
        if not self.overloaded and (self._late_ratio > OVERLOAD_LATE_RATIO or ratio > 1):
            self._overload_since = now
            self.overloaded = True
            self.effective_interval_s = effective
            log.warning(
                "modbus link %s overloaded: polls start %.0f%% of their interval late (interval %gs, "
                "effective ≈ %.3gs); effective rate lowered — poll less often, use fewer points or "
                "another link",
                self.key,
                100 * max(self._late_ratio, ratio),
                interval,
                effective,
            )
        elif self.overloaded:
            self.effective_interval_s = interval * (1 + self._late_ratio)
            if self._late_ratio < OVERLOAD_LATE_RATIO / 5:
                self._overload_since = now
                self.overloaded = False
                log.info("modbus link %s keeps up again (interval %gs)", self.key, interval)


_REQUESTS: dict[Table, type[ModbusPDU]] = {
    Table.COIL: ReadCoilsRequest,
    Table.DISCRETE_INPUT: ReadDiscreteInputsRequest,
    Table.HOLDING_REGISTER: ReadHoldingRegistersRequest,
    Table.INPUT_REGISTER: ReadInputRegistersRequest,
}


def _line_failed(bus: _Bus, exc: Exception) -> None:
    bus.close()
    bus.mark_down(f"link {bus.key} failed: {type(exc).__name__}: {exc}")


def _pdu(request: ReadRequest, unit: int) -> ModbusPDU:
    """The pymodbus request of one planned read (what `client.read_holding_registers` & co.
    build per call; the poller builds it once per device and sends it with `client.execute`)."""
    return _REQUESTS[request.table](address=request.start, count=request.count, dev_id=unit)


@dataclass(frozen=True, slots=True)
class _PointMeta:
    """What every sample of a numeric point repeats, looked up once per device (not per poll)."""

    name: str
    quantity: str
    unit: str
    valid_min: float | None
    valid_max: float | None
    step: float | None
    digits: int | None  # float registers: significant digits (the step follows the value)


def _point_meta(point: Point) -> _PointMeta | None:
    """None for points that give no sample (strings, points without a quantity)."""
    if point.type is RawType.STRING or point.quantity is None:
        return None
    return _PointMeta(
        point.name,
        point.quantity,
        point.unit,
        point.valid_min,
        point.valid_max,
        point.step,
        point.significant_digits,
    )


def _bad(device: _Device, request: ReadRequest, ts: int, reason: str) -> list[Sample]:
    out = []
    for name in request.points:
        m = device.meta[name]
        if m is not None:
            out.append(_make(device.config.id, m, None, ts, Quality.BAD, reason))
    return out


def _sample(device_id: str, m: _PointMeta, decoded: Decoded, ts: int) -> Sample:
    value = decoded.value if isinstance(decoded.value, float) else None
    if value is None:
        return _make(device_id, m, None, ts, Quality.BAD, decoded.reason or "no value")
    if decoded.reason:
        return _make(device_id, m, value, ts, Quality.UNCERTAIN, decoded.reason)
    # the valid range travels with the sample; the normaliser is the one place that checks it
    return _make(device_id, m, value, ts, Quality.GOOD, None)


def _make(
    device_id: str, m: _PointMeta, value: float | None, ts: int, quality: Quality, reason: str | None
) -> Sample:
    step = m.step if m.digits is None or value is None else significant_step(value, m.digits)
    return Sample(
        device_id, m.name, m.quantity, value, m.unit, ts, quality, reason, m.valid_min, m.valid_max, step
    )


class ModbusPoller:
    """Polls every enabled device forever (until `stop`), handing samples to `sink`.

    `max_backoff_s` caps the retry interval of a dead device; `planner` is replaceable so the
    benchmark can measure the one-request-per-point baseline through the same code."""

    def __init__(
        self,
        devices: Sequence[ModbusDevice],
        profiles: Mapping[str, DeviceProfile],
        sink: SampleSink,
        clock: Clock | None = None,
        max_backoff_s: float = 300.0,
        planner: Planner = plan_profile,
    ) -> None:
        ids = [d.id for d in devices]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate Modbus device ids: {dup}")
        self.clock: Clock = clock or WallClock()
        self.sink = sink
        self.sink_errors = 0
        self._devices = {d.id: build_device(d, profiles, planner) for d in devices}
        groups: dict[str, list[_Device]] = {}
        per_link: dict[str, int] = {}
        for dev in self._devices.values():
            if dev.config.enabled:
                link = dev.config.link_key()
                t = dev.config.transport
                conns = t.max_connections if isinstance(t, TcpTransport) else 1
                n = per_link.get(link, 0)
                per_link[link] = n + 1
                key = link if conns == 1 else f"{link}#{n % conns}"
                groups.setdefault(key, []).append(dev)
            else:
                dev.stats.state = "disabled"
                dev.health.state = "disabled"
        self._buses = [_Bus(key, devs, self.clock, max_backoff_s) for key, devs in groups.items()]
        for i, bus in enumerate(self._buses):  # lines start their cycles spread over the first second
            bus.phase = i / len(self._buses)
        quiet = logging.getLogger("pymodbus")
        if quiet.level == logging.NOTSET:  # the poller reports every failure itself, with a reason
            quiet.setLevel(logging.CRITICAL)

    @property
    def buses(self) -> dict[str, list[str]]:
        return {b.key: [d.config.id for d in b.devices] for b in self._buses}

    def plan(self, device_id: str) -> list[ReadRequest]:
        return list(self._devices[device_id].plan)

    def stats(self) -> dict[str, DeviceStats]:
        return {i: d.stats for i, d in self._devices.items()}

    def health(self) -> dict[str, DeviceHealth]:
        return {i: d.health for i, d in self._devices.items()}

    def overloaded_links(self) -> dict[str, float]:
        """Links whose polls run late, with the effective poll interval (for /metrics)."""
        return {b.key: round(b.effective_interval_s, 3) for b in self._buses if b.overloaded}

    async def run(self, stop: asyncio.Event) -> None:
        # each line is its own supervised task: one that fails is logged with its traceback, its
        # devices go DOWN with the cause and it alone is restarted with backoff
        lines = Supervisor(LINE_RESTART_MIN_S, LINE_RESTART_MAX_S)
        tasks = [
            lines.start(
                f"modbus link {b.key}",
                functools.partial(b.run, stop, self.sink, self._sink_error),
                stop,
                on_failure=functools.partial(_line_failed, b),
            )
            for b in self._buses
        ]
        await join(tasks)

    async def poll_once(self, device_ids: Sequence[str] | None = None) -> list[Sample]:
        """Poll the given (default: all enabled) devices once: buses concurrently, each line
        in turn. Does not call the sink; used by `agent probe` and the benchmark."""
        wanted = set(device_ids) if device_ids is not None else None

        async def one_bus(bus: _Bus) -> list[Sample]:
            out: list[Sample] = []
            for d in bus.devices:
                if wanted is None or d.config.id in wanted:
                    try:
                        out += await bus.poll(d)
                    except Exception as exc:  # an unforeseen error is this device's row, not a traceback
                        bus.close()
                        reason = f"{type(exc).__name__}: {exc}"
                        d.health.record(self.clock.now_ns(), False, (), 0, reason, None)
                        log.debug("modbus %s: poll failed", d.config.id, exc_info=exc)
            return out

        results = await asyncio.gather(*(one_bus(b) for b in self._buses))
        return [s for r in results for s in r]

    def close(self) -> None:
        for b in self._buses:
            b.close()

    def _sink_error(self, device_id: str, exc: Exception) -> None:
        self.sink_errors += 1
        log.error("sample sink failed for Modbus device %s: %s", device_id, exc)
