"""Shared test helpers for the edge agent: config files, a telemetry collector, bounded waits."""

from __future__ import annotations

import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contract.telemetry import Batch, decode_batch
from device_profiles.loader import load_library
from simulators.modbus_server import SimDevice

SITE, AGENT = "sz-test", "gw-T"


def write_config(path: Path, up_port: int, extra: str = "", south_port: int | None = None) -> Path:
    text = f"""site: {SITE}
agent: {AGENT}
upstream:
  broker: {{host: 127.0.0.1, port: {up_port}, reconnect_min_s: 0.1, reconnect_max_s: 0.5}}
  batch_size: 50
  batch_interval_s: 0.1
  replay_rate: 200
  publish_timeout_s: 3
buffer:
  path: buf/queue.sqlite
metrics:
  listen: null
health_interval_s: 0.5
"""
    if south_port is not None:
        text += f"""mqtt:
  broker: {{host: 127.0.0.1, port: {south_port}, reconnect_min_s: 0.1, reconnect_max_s: 0.5}}
  subscriptions:
    - {{format: zigbee2mqtt}}
    - {{format: tasmota}}
    - {{format: lorawan}}
"""
    path.write_text(text + extra, encoding="utf-8")
    return path


class Collector:
    """Subscribes to the agent's telemetry/status topics on a broker; keeps decoded batches."""

    def __init__(self, port: int, client_id: str = "collector") -> None:
        self.batches: list[Batch] = []
        self.status: list[bytes] = []
        self.health: list[bytes] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise AssertionError("collector could not subscribe")

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        client.subscribe(
            [
                (f"campus/{SITE}/+/telemetry", 1),
                (f"campus/{SITE}/+/status", 1),
                (f"campus/{SITE}/+/health", 1),
            ]
        )

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            if msg.topic.endswith("/telemetry"):
                try:
                    self.batches.append(decode_batch(msg.payload, msg.topic))
                except ValueError as exc:
                    self.errors.append(str(exc))
            elif msg.topic.endswith("/status"):
                self.status.append(msg.payload)
            else:
                self.health.append(msg.payload)

    def values(self, device: str | None = None, point: str | None = None) -> list[float | None]:
        with self._lock:
            return [
                r.value
                for b in self.batches
                for r in b.readings
                if (device is None or r.device == device) and (point is None or r.point == point)
            ]

    def seqs(self) -> list[int]:
        with self._lock:
            return [b.seq for b in self.batches]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def unique_readings(batches: list[Batch]) -> list[tuple[str, str, int, float | None]]:
    """Readings in delivery order with resent batches (same seq) counted once; asserts that a
    resent batch carries exactly the same readings as its first copy."""
    first: dict[int, Batch] = {}
    out: list[tuple[str, str, int, float | None]] = []
    for b in sorted(batches, key=lambda b: b.seq):
        if b.seq in first:
            assert b.readings == first[b.seq].readings, f"seq {b.seq} resent with different readings"
            continue
        first[b.seq] = b
        out.extend((r.device, r.point, r.ts, r.value) for r in b.readings)
    return out


def sim_devices() -> list[SimDevice]:
    """A temperature/humidity sensor (unit 1) and an energy meter (unit 2) with known values."""
    lib = load_library()
    th = SimDevice(1, lib["renke-rs-ws-n01"])
    th.set_values({"temperature": 23.4, "humidity": 55.0})
    em = SimDevice(2, lib["chint-ddsu666"])
    em.set_values({"voltage": 229.5, "energy": 1234.5})
    return [th, em]
