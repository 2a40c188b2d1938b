"""MQTT sensor simulator: turns model values into zigbee2mqtt / Tasmota / LoRaWAN messages.

Each sensor publishes every `interval_s` of wall time, phase-shifted by a per-device offset so
two thousand sensors do not all fire in the same millisecond (real radios don't either).
`messages_due` is pure bookkeeping; `publish_due` sends them on an `MqttLink`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from contract.campus import MqttFormat
from simulators import mqtt_formats as fmts
from simulators.mqtt_link import MqttLink
from simulators.timetable import mix64, stable_seed


@dataclass(slots=True)
class MqttSensor:
    device: str
    format: MqttFormat
    quantities: tuple[str, ...]
    room_index: int
    f_cnt: int = 0
    next_due: float = 0.0  # wall seconds (monotonic) of the next publication
    key: int = field(default=0)


class MqttSensorSimulator:
    def __init__(
        self,
        sensors: Sequence[MqttSensor],
        *,
        site: str,
        timezone: str = "Asia/Shanghai",
        interval_s: float = 10.0,
        qos: int = 0,
        seed: int = 0,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        for s in sensors:
            fmts.check_quantities(s.format, s.device, s.quantities)
        self.sensors = list(sensors)
        self.site = site
        self.tz = ZoneInfo(timezone)
        self.interval_s = interval_s
        self.qos = qos
        self.seed = seed
        keys = np.array([stable_seed(seed, s.device) for s in self.sensors], dtype=np.uint64)
        phases = mix64(keys, 0x77) if len(keys) else np.zeros(0)
        for s, k, ph in zip(self.sensors, keys, phases, strict=True):
            s.key = int(k)
            s.next_due = float(ph) * interval_s
        self.by_device = {s.device: s for s in self.sensors}
        self.started_at: float | None = None

    def message(self, sensor: MqttSensor, values: Mapping[str, np.ndarray], t_ns: int) -> fmts.Message:
        """The sensor's next message for the model's current values (advances its fCnt)."""
        v = {q: float(values[q][sensor.room_index]) for q in sensor.quantities}
        sensor.f_cnt += 1
        dice = float(mix64(np.array([sensor.key], dtype=np.uint64), sensor.f_cnt, 0x99)[0])
        if sensor.format == "zigbee2mqtt":
            return fmts.zigbee2mqtt(
                sensor.device, v, linkquality=90 + int(dice * 80), battery=max(5, 100 - sensor.key % 40)
            )
        if sensor.format == "tasmota":
            return fmts.tasmota(sensor.device, v, t_ns=t_ns, tz=self.tz)
        return fmts.lorawan(
            sensor.device,
            v,
            site=self.site,
            t_ns=t_ns,
            f_cnt=sensor.f_cnt,
            dedup=uuid.UUID(int=(sensor.key << 64) | (sensor.f_cnt & 0xFFFFFFFFFFFFFFFF) | (1 << 127)),
            rssi=-110 + int(dice * 50),
            snr=round(-5 + dice * 15, 1),
        )

    def messages_due(self, now_s: float, values: Mapping[str, np.ndarray], t_ns: int) -> list[fmts.Message]:
        """Messages of sensors whose time has come at monotonic `now_s` (first call = time 0)."""
        if self.started_at is None:
            self.started_at = now_s
        elapsed = now_s - self.started_at
        out = []
        for s in self.sensors:
            if s.next_due <= elapsed:
                out.append(self.message(s, values, t_ns))
                # skip missed slots instead of bursting to catch up (a real sensor's timer does)
                s.next_due += self.interval_s * max(1, int((elapsed - s.next_due) // self.interval_s) + 1)
        return out

    def publish_due(self, link: MqttLink, now_s: float, values: Mapping[str, np.ndarray], t_ns: int) -> int:
        msgs = self.messages_due(now_s, values, t_ns)
        for m in msgs:
            link.publish(m.topic, m.payload, qos=self.qos)
        return len(msgs)

    def publish_all(self, link: MqttLink, values: Mapping[str, np.ndarray], t_ns: int) -> int:
        for s in self.sensors:
            m = self.message(s, values, t_ns)
            link.publish(m.topic, m.payload, qos=self.qos)
        return len(self.sensors)
