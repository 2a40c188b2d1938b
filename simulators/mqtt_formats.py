"""Payloads of the MQTT sensor families campuses meet, built from one set of readings.

Pure functions: (device, quantities → values, time) → (topic, payload bytes). The shapes are
those of the real systems (see TEAM.md, "MQTT southbound formats"):
- zigbee2mqtt: `zigbee2mqtt/<device>`, a flat JSON object, no timestamp (stamped at receipt);
  `occupancy` is the presence boolean of a PIR/mmWave sensor, as zigbee2mqtt publishes it;
- tasmota: `tele/<device>/SENSOR`, per-sensor objects with local `Time` without a zone;
- lorawan: a ChirpStack v4 uplink event on `application/<app>/device/<devEui>/event/up`
  with the decoded `object` and the raw frame as base64 Cayenne LPP in `data`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import struct
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from contract.campus import MqttFormat

FORMATS: tuple[MqttFormat, ...] = ("zigbee2mqtt", "tasmota", "lorawan")

# quantities each format can carry, and the key it is published under
Z2M_KEYS = {
    "temperature": "temperature",
    "humidity": "humidity",
    "illuminance": "illuminance",
    "occupancy": "occupancy",
    "presence": "presence",
    "co2": "co2",
    "pm25": "pm25",
    "pm10": "pm10",
    "hcho": "formaldehyd",  # zigbee2mqtt's own spelling (e.g. Tuya air boxes)
    "tvoc": "voc",
    "noise": "noise",
    "power": "power",
    "energy": "energy",
    "voltage": "voltage",
    "current": "current",
}
# (sensor object, key) per quantity, as Tasmota names them
TASMOTA_KEYS = {
    "temperature": ("AM2301", "Temperature"),
    "humidity": ("AM2301", "Humidity"),
    "illuminance": ("BH1750", "Illuminance"),
    "co2": ("SCD40", "CarbonDioxide"),
    "pm25": ("SDS0X1", "PM2.5"),
    "pm10": ("SDS0X1", "PM10"),
    "power": ("ENERGY", "Power"),
    "energy": ("ENERGY", "Total"),
    "voltage": ("ENERGY", "Voltage"),
    "current": ("ENERGY", "Current"),
}
# Cayenne LPP (type id, bytes, resolution, signed); co2/pm are the common LPP extensions
LPP_TYPES = {
    "illuminance": (101, 2, 1.0, False),
    "presence": (102, 1, 1.0, False),
    "occupancy": (102, 1, 1.0, False),
    "temperature": (103, 2, 0.1, True),
    "humidity": (104, 1, 0.5, False),
    "co2": (125, 2, 1.0, False),
    "pm25": (126, 2, 1.0, False),
    "pm10": (127, 2, 1.0, False),
    "noise": (128, 2, 0.1, False),
}
DECIMALS = {"temperature": 1, "humidity": 1, "illuminance": 0, "co2": 0, "pm25": 0, "pm10": 0, "noise": 1}
LORAWAN_FPORT = 2


def supported(fmt: MqttFormat) -> frozenset[str]:
    keys: dict[str, frozenset[str]] = {
        "zigbee2mqtt": frozenset(Z2M_KEYS),
        "tasmota": frozenset(TASMOTA_KEYS),
        "lorawan": frozenset(LPP_TYPES),
    }
    return keys[fmt]


def check_quantities(fmt: MqttFormat, device: str, quantities: tuple[str, ...]) -> None:
    missing = [q for q in quantities if q not in supported(fmt)]
    if missing:
        raise ValueError(
            f"device {device!r}: format {fmt} cannot carry {missing}; supported: {sorted(supported(fmt))}"
        )


def dev_eui(device: str) -> str:
    """A stable 64-bit EUI per device id (two CRCs), lower-case hex as ChirpStack prints it."""
    a = zlib.crc32(device.encode())
    b = zlib.crc32(device.encode()[::-1] + b"eui")
    return f"{a:08x}{b:08x}"


def application_id(site: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"campus-twin:{site}"))


def _round(quantity: str, value: float) -> float | int | bool:
    if quantity in ("occupancy", "presence"):
        return bool(value > 0)
    digits = DECIMALS.get(quantity, 2)
    return round(value) if digits == 0 else round(value, digits)


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes


def zigbee2mqtt(device: str, values: Mapping[str, float], *, linkquality: int, battery: int) -> Message:
    doc: dict[str, object] = {Z2M_KEYS[q]: _round(q, v) for q, v in values.items()}
    doc["linkquality"] = linkquality
    doc["battery"] = battery
    return Message(f"zigbee2mqtt/{device}", json.dumps(doc, separators=(",", ":")).encode())


def tasmota(device: str, values: Mapping[str, float], *, t_ns: int, tz: ZoneInfo) -> Message:
    local = dt.datetime.fromtimestamp(t_ns / 1e9, tz=tz).replace(tzinfo=None, microsecond=0)
    doc: dict[str, object] = {"Time": local.isoformat()}
    for q, v in values.items():
        sensor, key = TASMOTA_KEYS[q]
        sub = doc.setdefault(sensor, {})
        assert isinstance(sub, dict)
        sub[key] = _round(q, v)
    if "temperature" in values:
        doc["TempUnit"] = "C"
    return Message(f"tele/{device}/SENSOR", json.dumps(doc, separators=(",", ":")).encode())


def cayenne_lpp(values: Mapping[str, float]) -> tuple[bytes, dict[str, float | int | bool]]:
    """Encode as Cayenne LPP (channel per quantity) and return what a decoder recovers."""
    frame = bytearray()
    decoded: dict[str, float | int | bool] = {}
    for channel, (q, v) in enumerate(values.items(), start=1):
        type_id, size, res, signed = LPP_TYPES[q]
        raw = round(v / res)
        lo, hi = (-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1) if signed else (0, (1 << (8 * size)) - 1)
        raw = max(lo, min(hi, raw))
        frame += bytes([channel, type_id]) + raw.to_bytes(size, "big", signed=signed)
        if q in ("occupancy", "presence"):
            decoded[q] = bool(raw)
        else:
            decoded[q] = round(raw * res, 1) if res < 1 else raw
    return bytes(frame), decoded


def lorawan(
    device: str,
    values: Mapping[str, float],
    *,
    site: str,
    t_ns: int,
    f_cnt: int,
    dedup: uuid.UUID,
    rssi: int,
    snr: float,
) -> Message:
    eui = dev_eui(device)
    app = application_id(site)
    frame, decoded = cayenne_lpp(values)
    when = dt.datetime.fromtimestamp(t_ns / 1e9, tz=dt.UTC)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    doc = {
        "deduplicationId": str(dedup),
        "time": stamp,
        "deviceInfo": {
            "tenantId": str(uuid.uuid5(uuid.NAMESPACE_URL, "campus-twin:tenant")),
            "tenantName": "campus",
            "applicationId": app,
            "applicationName": site,
            "deviceProfileId": str(uuid.uuid5(uuid.NAMESPACE_URL, "campus-twin:lpp-sensor")),
            "deviceProfileName": "cayenne-lpp-sensor",
            "deviceName": device,
            "devEui": eui,
            "tags": {},
        },
        "devAddr": f"{zlib.crc32(eui.encode()) & 0x01FFFFFF:08x}",
        "adr": True,
        "dr": 5,
        "fCnt": f_cnt,
        "fPort": LORAWAN_FPORT,
        "confirmed": False,
        "data": base64.b64encode(frame).decode(),
        "object": decoded,
        "rxInfo": [
            {
                "gatewayId": "0016c001ff10a235",
                "uplinkId": f_cnt & 0xFFFF,
                "rssi": rssi,
                "snr": snr,
                "channel": 2,
                "location": {},
                "context": base64.b64encode(struct.pack(">I", f_cnt & 0xFFFFFFFF)).decode(),
                "crcStatus": "CRC_OK",
            }
        ],
        "txInfo": {
            "frequency": 471_900_000,  # CN470 band
            "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 7, "codeRate": "CR_4_5"}},
        },
    }
    return Message(
        f"application/{app}/device/{eui}/event/up", json.dumps(doc, separators=(",", ":")).encode()
    )


def topic_for(fmt: MqttFormat, device: str, site: str) -> str:
    if fmt == "zigbee2mqtt":
        return f"zigbee2mqtt/{device}"
    if fmt == "tasmota":
        return f"tele/{device}/SENSOR"
    return f"application/{application_id(site)}/device/{dev_eui(device)}/event/up"
