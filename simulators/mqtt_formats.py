"""Payloads of the MQTT sensor families campuses meet, built from one set of readings.

Pure functions: (device, quantities → values, time) → (topic, payload bytes). Keys, units, the
sensor objects and the Cayenne LPP types come from the format files the agent decodes with
(device_profiles/mqtt/*.yaml, `simulated: true`), so encoder and decoder cannot drift:
- zigbee2mqtt: `zigbee2mqtt/<device>`, a flat JSON object, no timestamp (stamped at receipt);
  `occupancy` is the presence boolean of a PIR/mmWave sensor, as zigbee2mqtt publishes it;
- tasmota: `tele/<device>/SENSOR`, per-sensor objects with local `Time` without a zone;
- lorawan: a ChirpStack v4 uplink event on `application/<app>/device/<devEui>/event/up`
  with the decoded `object` and the raw frame as base64 Cayenne LPP in `data`.
Values leave in the format's unit (the catalogue's conversion, inverted) at its resolution.
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
from contract.quantities import catalogue, decimals_for
from device_profiles.mqtt_format import KeyPoint, carried, simulated_format
from simulators.device_values import converter

FORMATS: tuple[MqttFormat, ...] = ("zigbee2mqtt", "tasmota", "lorawan")
LORAWAN_FPORT = 2


def points(fmt: MqttFormat) -> dict[str, KeyPoint]:
    """Campus-spec quantity → the format point that carries it."""
    return carried(simulated_format(fmt))


def supported(fmt: MqttFormat) -> frozenset[str]:
    return frozenset(points(fmt))


def check_quantities(fmt: MqttFormat, device: str, quantities: tuple[str, ...]) -> None:
    missing = [q for q in quantities if q not in supported(fmt)]
    if missing:
        raise ValueError(
            f"device {device!r}: format {fmt} cannot carry {missing}; supported: {sorted(supported(fmt))}"
        )


def encode_value(kp: KeyPoint, value: float) -> float | int | bool:
    """A canonical value as the device sends it: its unit, the format transform, its resolution."""
    spec = catalogue().spec(kp.quantity)
    if spec.kind == "boolean":
        return bool(value > 0)
    to_device = converter(kp.quantity, kp.unit)
    raw = (to_device(value) - kp.offset) / kp.scale
    slope = abs(to_device(1.0) - to_device(0.0)) / abs(kp.scale)  # device units per canonical unit
    digits = decimals_for(spec.resolution * slope)
    if spec.kind == "count" or digits == 0:
        return round(raw)
    return round(raw, digits)


def dev_eui(device: str) -> str:
    """A stable 64-bit EUI per device id (two CRCs), lower-case hex as ChirpStack prints it."""
    a = zlib.crc32(device.encode())
    b = zlib.crc32(device.encode()[::-1] + b"eui")
    return f"{a:08x}{b:08x}"


def application_id(site: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"campus-twin:{site}"))


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes


def zigbee2mqtt(device: str, values: Mapping[str, float], *, linkquality: int, battery: int) -> Message:
    table = points("zigbee2mqtt")
    doc: dict[str, object] = {table[q].published_key: encode_value(table[q], v) for q, v in values.items()}
    doc["linkquality"] = linkquality
    doc["battery"] = battery
    return Message(f"zigbee2mqtt/{device}", json.dumps(doc, separators=(",", ":")).encode())


def tasmota(device: str, values: Mapping[str, float], *, t_ns: int, tz: ZoneInfo) -> Message:
    local = dt.datetime.fromtimestamp(t_ns / 1e9, tz=tz).replace(tzinfo=None, microsecond=0)
    doc: dict[str, object] = {"Time": local.isoformat()}
    table = points("tasmota")
    for q, v in values.items():
        kp = table[q]
        sub = doc.setdefault(kp.sensors[0] if kp.sensors else "SENSOR", {})
        assert isinstance(sub, dict)
        sub[kp.published_key] = encode_value(kp, v)
    if "temperature" in values:
        doc["TempUnit"] = "C"
    return Message(f"tele/{device}/SENSOR", json.dumps(doc, separators=(",", ":")).encode())


def cayenne_lpp(values: Mapping[str, float]) -> tuple[bytes, dict[str, float | int | bool]]:
    """Encode as Cayenne LPP (channel per quantity) and return what a decoder recovers."""
    frame = bytearray()
    decoded: dict[str, float | int | bool] = {}
    table = points("lorawan")
    for channel, (q, v) in enumerate(values.items(), start=1):
        kp = table[q]
        assert kp.lpp is not None  # `carried` keeps only LPP points for LoRaWAN
        type_id, size, res, signed = kp.lpp.type, kp.lpp.size, kp.lpp.resolution, kp.lpp.signed
        raw = round(v / res)
        lo, hi = (-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1) if signed else (0, (1 << (8 * size)) - 1)
        raw = max(lo, min(hi, raw))
        frame += bytes([channel, type_id]) + raw.to_bytes(size, "big", signed=signed)
        if catalogue().spec(kp.quantity).kind == "boolean":
            decoded[kp.published_key] = bool(raw)
        else:
            decoded[kp.published_key] = round(raw * res, decimals_for(res)) if res < 1 else raw
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
    if fmt in ("zigbee2mqtt", "tasmota"):
        spec = simulated_format(fmt)
        return f"{spec.topic_prefix}{device}{spec.topic_suffix}"
    return f"application/{application_id(site)}/device/{dev_eui(device)}/event/up"
