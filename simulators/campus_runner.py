"""Run a whole simulated campus in one process: model → Modbus TCP servers + MQTT sensors.

`CampusRunner` expands the campus spec, starts one `ModbusSimServer` per (building,
server_index) and one MQTT link, then every tick advances the classroom model to
`clock.now_ns()`, writes each Modbus device's point values into its server and publishes the
MQTT sensors that are due. `manifest()` tells agents (and tests) where every device lives.

Faults are injected on a running campus through `inject()` or, from another process, by a
JSON message on the control topic (`campus-twin sim faults` sends one).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract.campus import CampusSpec, Device, Room, expand
from contract.clock import Clock, ScaledClock, WallClock
from device_profiles.loader import load_library
from device_profiles.schema import DeviceProfile
from simulators.classroom_model import ClassroomModel
from simulators.device_values import PointFeed, point_feeds, values_for
from simulators.modbus_faults import Fault, FaultKind
from simulators.modbus_server import Framer, ModbusSimServer, SimDevice
from simulators.mqtt_faults import MQTT_FAULTS, faulty, inject
from simulators.mqtt_formats import application_id, dev_eui, topic_for
from simulators.mqtt_link import BrokerOptions, MqttLink
from simulators.mqtt_sim import MqttSensor, MqttSensorSimulator

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
MODBUS_FAULTS: tuple[FaultKind, ...] = ("timeout", "exception", "garbled", "short", "delay")
CONTROL_ROOT = "campus-twin-sim"
YIELD_EVERY = 32  # devices/messages between two yields to the event loop during a tick


def control_topic(site: str) -> str:
    return f"{CONTROL_ROOT}/{site}/control"


@dataclass(frozen=True, slots=True)
class RunnerOptions:
    broker: BrokerOptions | None = None
    host: str = "127.0.0.1"  # where the Modbus servers listen
    base_port: int = 0  # 0: free ports; else base_port + n for the n-th server
    framer: Framer = "socket"
    tick_s: float = 1.0  # wall seconds between model updates
    mqtt_interval_s: float = 10.0  # wall seconds between two messages of one MQTT sensor
    mqtt_qos: int = 0
    step_s: float = 60.0  # model grid, simulated seconds
    profile_dirs: tuple[str, ...] | None = None


@dataclass(slots=True)
class ModbusBinding:
    device: Device
    server: ModbusSimServer
    feeds: list[PointFeed]
    room_index: int


@dataclass
class RunnerStats:
    ticks: int = 0
    model_steps: int = 0
    modbus_points: int = 0  # point values written into servers
    mqtt_messages: int = 0
    mqtt_values: int = 0
    faults_injected: int = 0
    encode_errors: int = 0
    tick_seconds: list[float] = field(default_factory=list)  # the last 100
    tick_seconds_sum: float = 0.0  # all ticks (the metrics summary)


class CampusRunner:
    def __init__(
        self,
        spec: CampusSpec,
        options: RunnerOptions | None = None,
        *,
        clock: Clock | None = None,
        profiles: dict[str, DeviceProfile] | None = None,
    ) -> None:
        self.spec = spec
        self.options = options or RunnerOptions()
        self.clock = clock or WallClock()
        self.rooms: list[Room] = expand(spec)
        self.profiles = profiles if profiles is not None else load_library(self.options.profile_dirs)
        self.model = ClassroomModel.from_campus(
            spec, self.rooms, start_ns=self.clock.now_ns(), step_s=self.options.step_s
        )
        self.model.advance_to(self.clock.now_ns())
        self.servers: dict[tuple[str, int], ModbusSimServer] = {}
        self.modbus: dict[str, ModbusBinding] = {}
        self.stats = RunnerStats()
        self.link: MqttLink | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clear_tasks: dict[str, asyncio.TimerHandle] = {}
        self._build_modbus()
        self.mqtt = self._build_mqtt()

    # ------------------------------------------------------------------ construction

    def _build_modbus(self) -> None:
        by_server: dict[tuple[str, int], list[SimDevice]] = {}
        pending: list[tuple[Device, SimDevice, list[PointFeed], int]] = []
        for room in self.rooms:
            ri = self.model.index[room.number]
            for d in room.devices:
                if d.protocol != "modbus":
                    continue
                profile = self.profiles.get(d.profile or "")
                if profile is None:
                    raise ValueError(
                        f"device {d.id}: unknown profile {d.profile!r}; known: {', '.join(sorted(self.profiles))}"
                    )
                try:
                    feeds = point_feeds((p.name, p.quantity, p.unit) for p in profile.points)
                except ValueError as exc:
                    raise ValueError(f"device {d.id} (profile {profile.name}): {exc}") from None
                sim = SimDevice(d.unit_id, profile)
                by_server.setdefault((d.building, d.server_index), []).append(sim)
                pending.append((d, sim, feeds, ri))
        for n, key in enumerate(sorted(by_server)):
            port = self.options.base_port + n if self.options.base_port else 0
            self.servers[key] = ModbusSimServer(
                by_server[key], host=self.options.host, port=port, framer=self.options.framer
            )
        for d, _sim, feeds, ri in pending:
            self.modbus[d.id] = ModbusBinding(d, self.servers[(d.building, d.server_index)], feeds, ri)

    def _build_mqtt(self) -> MqttSensorSimulator:
        sensors = [
            MqttSensor(d.id, d.format or "zigbee2mqtt", d.quantities, self.model.index[room.number])
            for room in self.rooms
            for d in room.devices
            if d.protocol == "mqtt"
        ]
        return MqttSensorSimulator(
            sensors,
            site=self.spec.site,
            timezone=self.spec.timezone,
            interval_s=self.options.mqtt_interval_s,
            qos=self.options.mqtt_qos,
            seed=self.spec.seed,
        )

    @property
    def device_count(self) -> int:
        return len(self.modbus) + len(self.mqtt.sensors)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for server in self.servers.values():
            await server.start()
        self.push_modbus()
        if self.options.broker is not None:
            self.link = MqttLink(self.options.broker)
            self.link.client.on_message = self._on_control
            await asyncio.to_thread(self.link.connect)
            self.link.subscribe(control_topic(self.spec.site), qos=1)

    async def stop(self) -> None:
        for handle in self._clear_tasks.values():
            handle.cancel()
        self._clear_tasks.clear()
        if self.link is not None:
            self.link.close()
            self.link = None
        for server in self.servers.values():
            if server.running:
                await server.stop()

    async def run(self, stop: asyncio.Event, duration_s: float | None = None) -> None:
        """Tick until `stop` is set (or `duration_s` wall seconds passed)."""
        began = time.monotonic()
        while not stop.is_set():
            if duration_s is not None and time.monotonic() - began >= duration_s:
                return
            t0 = time.perf_counter()
            await self.tick()
            spent = time.perf_counter() - t0
            self.stats.tick_seconds.append(spent)
            self.stats.tick_seconds_sum += spent
            del self.stats.tick_seconds[:-100]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    stop.wait(), timeout=max(0.0, self.options.tick_s - (time.perf_counter() - t0))
                )

    async def tick(self) -> None:
        now = self.clock.now_ns()
        steps = self.model.advance_to(now)
        self.stats.model_steps += steps
        self.stats.ticks += 1
        if steps:
            await self.push_modbus_async()
        if self.link is not None:
            msgs = self.mqtt.messages_due(time.monotonic(), self.model.values, now)
            for i, m in enumerate(msgs):
                self.link.publish(m.topic, m.payload, qos=self.options.mqtt_qos)
                if i % YIELD_EVERY == YIELD_EVERY - 1:
                    await asyncio.sleep(0)  # let the Modbus servers answer polls meanwhile
            self.stats.mqtt_messages += len(msgs)

    def push_modbus(self) -> int:
        """Write every Modbus device's current values into its server."""
        written = 0
        values = self.model.values
        for b in self.modbus.values():
            written += self._set(b, values)
        self.stats.modbus_points += written
        return written

    async def push_modbus_async(self, chunk: int = YIELD_EVERY) -> int:
        """As `push_modbus`, yielding to the servers every `chunk` devices so polls are served."""
        written = 0
        values = self.model.values
        for i, b in enumerate(self.modbus.values()):
            written += self._set(b, values)
            if i % chunk == chunk - 1:
                await asyncio.sleep(0)
        self.stats.modbus_points += written
        return written

    def _set(self, b: ModbusBinding, values: dict[str, Any]) -> int:
        """One device's values into its server; a value the profile cannot encode (out of
        its raw type's range) keeps the previous registers and is counted, not fatal."""
        try:
            b.server.set_values(b.device.unit_id, values_for(b.feeds, values, b.room_index))
        except ValueError as exc:
            self.stats.encode_errors += 1
            if self.stats.encode_errors <= 10:
                log.warning("device %s: value not encodable, registers unchanged: %s", b.device.id, exc)
            return 0
        return len(b.feeds)

    # ------------------------------------------------------------------ faults

    def inject(
        self,
        device: str,
        kind: str,
        *,
        code: int = 4,
        delay_s: float = 0.0,
        duration_s: float | None = None,
        count: int | None = None,
        size: int | None = None,
    ) -> str:
        """Apply a fault to a device; `kind="clear"` removes a Modbus fault. Returns a summary."""
        self.stats.faults_injected += 1
        if device in self.modbus:
            b = self.modbus[device]
            if kind == "clear":
                b.server.set_fault(b.device.unit_id, None)
                return f"{device}: fault cleared"
            if kind not in MODBUS_FAULTS:
                raise ValueError(
                    f"{device} is a Modbus device: fault must be one of {MODBUS_FAULTS} or clear"
                )
            b.server.set_fault(b.device.unit_id, Fault(kind, code=code, delay_s=delay_s))
            if duration_s and self._loop is not None:
                old = self._clear_tasks.pop(device, None)
                if old:
                    old.cancel()
                self._clear_tasks[device] = self._loop.call_later(
                    duration_s, lambda: b.server.set_fault(b.device.unit_id, None)
                )
            return f"{device}: {kind} on {b.server.host}:{b.server.port} unit {b.device.unit_id}"
        sensor = self.mqtt.by_device.get(device)
        if sensor is None:
            raise KeyError(f"no device {device!r} in campus {self.spec.site}")
        if kind not in MQTT_FAULTS:
            raise ValueError(f"{device} is an MQTT device: fault must be one of {MQTT_FAULTS}")
        if self.link is None:
            raise RuntimeError("MQTT faults need a broker (--broker)")
        msg = self.mqtt.message(sensor, self.model.values, self.clock.now_ns())
        msgs = faulty(kind, msg, size=size, count=count)
        inject(self.link, msgs, qos=self.options.mqtt_qos)
        return f"{device}: {len(msgs)} {kind} message(s) on {msg.topic}"

    def _on_control(self, client: Any, userdata: Any, message: Any) -> None:
        """Control messages arrive on paho's thread; the fault is applied on the event loop."""
        try:
            doc = json.loads(message.payload)
            if not isinstance(doc, dict) or "device" not in doc or "fault" not in doc:
                raise ValueError("expected {device, fault, …}")
        except ValueError as exc:
            log.warning("ignored control message on %s: %s", message.topic, exc)
            return
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._apply_control, doc)

    def _apply_control(self, doc: dict[str, Any]) -> None:
        try:
            summary = self.inject(
                str(doc["device"]),
                str(doc["fault"]),
                code=int(doc.get("code", 4)),
                delay_s=float(doc.get("delay_s", 0.0)),
                duration_s=float(doc["duration_s"]) if doc.get("duration_s") else None,
                count=int(doc["count"]) if doc.get("count") else None,
                size=int(doc["size"]) if doc.get("size") else None,
            )
            log.info("fault: %s", summary)
        except (KeyError, ValueError, RuntimeError) as exc:
            log.warning("control message %s rejected: %s", doc, exc)

    # ------------------------------------------------------------------ manifest

    def manifest(self) -> dict[str, Any]:
        clock: dict[str, Any] = {"speed": 1.0}
        if isinstance(self.clock, ScaledClock):
            clock = {
                "origin_ns": self.clock.origin_ns,
                "speed": self.clock.speed,
                "offset_ns": self.clock.offset_ns,
            }
        broker = self.options.broker
        devices: dict[str, dict[str, Any]] = {}
        for room in self.rooms:
            for d in room.devices:
                entry: dict[str, Any] = {
                    "protocol": d.protocol,
                    "room": room.number,
                    "room_type": room.type,
                    "building": d.building,
                    "agent": d.agent,
                }
                if d.protocol == "modbus":
                    b = self.modbus[d.id]
                    entry |= {
                        "host": b.server.host,
                        "port": b.server.port if b.server.running else None,
                        "framer": b.server.framer,
                        "unit_id": d.unit_id,
                        "server_index": d.server_index,
                        "profile": d.profile,
                    }
                else:
                    fmt = d.format or "zigbee2mqtt"
                    entry |= {"format": fmt, "topic": self.mqtt_topic(d), "quantities": list(d.quantities)}
                    if fmt == "lorawan":
                        entry |= {"dev_eui": dev_eui(d.id), "application_id": application_id(self.spec.site)}
                devices[d.id] = entry
        return {
            "v": MANIFEST_VERSION,
            "site": self.spec.site,
            "timezone": self.spec.timezone,
            "clock": clock,
            "broker": None
            if broker is None
            else {"host": broker.host, "port": broker.port, "tls": broker.tls is not None},
            "control_topic": control_topic(self.spec.site),
            "servers": [
                {
                    "building": b,
                    "server_index": i,
                    "host": s.host,
                    "port": s.port if s.running else None,
                    "framer": s.framer,
                    "unit_ids": sorted(s.devices),
                }
                for (b, i), s in sorted(self.servers.items())
            ],
            "devices": devices,
        }

    def mqtt_topic(self, d: Device) -> str:
        return topic_for(d.format or "zigbee2mqtt", d.id, self.spec.site)

    def write_manifest(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.manifest(), ensure_ascii=False, indent=2), encoding="utf-8")


def fault_message(device: str, kind: str, **params: Any) -> bytes:
    """The control message `CampusRunner` applies (what `sim faults` publishes)."""
    allowed = set(MODBUS_FAULTS) | set(MQTT_FAULTS) | {"clear"}
    if kind not in allowed:
        raise ValueError(f"unknown fault {kind!r}; one of {sorted(allowed)}")
    doc = {"device": device, "fault": kind, **{k: v for k, v in params.items() if v is not None}}
    return json.dumps(doc).encode()
