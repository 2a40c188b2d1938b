"""Built-in sensor payload formats (the real systems' shapes, simulators/mqtt_formats.py) and custom mappings."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest

from edge_agent.config import PointMapping, Subscription, TimestampMapping
from edge_agent.sources.mqtt.formats import PayloadError, decode

TZ = ZoneInfo("Asia/Shanghai")
RX = 1_763_000_000_000_000_000


def sub(fmt: str, **kw: object) -> Subscription:
    return Subscription(format=fmt, **kw)  # type: ignore[arg-type]


def test_zigbee2mqtt() -> None:
    payload = b'{"temperature":23.4,"humidity":55.2,"illuminance":320,"occupancy":true,"co2":812,"linkquality":120,"battery":97}'
    d = decode(sub("zigbee2mqtt"), "zigbee2mqtt/A-201-occ", payload, RX, TZ)
    got = {(x.point, x.quantity, x.unit): x.value for x in d.samples}
    assert got == {
        ("temperature", "temperature", "°C"): 23.4,
        ("humidity", "humidity", "%"): 55.2,  # the device's unit; the normaliser makes it %RH
        ("illuminance", "illuminance", "lx"): 320.0,
        ("occupancy", "presence", "bool"): 1.0,
        ("co2", "co2", "ppm"): 812.0,
    }
    assert {x.device for x in d.samples} == {"A-201-occ"} and {x.ts for x in d.samples} == {RX}
    assert not d.problems


def test_tasmota_local_time_uses_config_timezone() -> None:
    payload = (
        b'{"Time":"2026-11-23T09:00:00","AM2301":{"Temperature":74.3,"Humidity":55.1},'
        b'"BH1750":{"Illuminance":320},"SCD40":{"CarbonDioxide":812},"TempUnit":"F"}'
    )
    received = 1795395600 * 10**9 + 2 * 10**9  # two seconds after the device's time
    d = decode(sub("tasmota"), "tele/A-203-lux/SENSOR", payload, received, TZ)
    by_point = {x.point: x for x in d.samples}
    assert set(by_point) == {"temperature", "humidity", "illuminance", "co2"}
    assert by_point["temperature"].unit == "F"  # TempUnit as sent; a catalogue alias of °F
    # 09:00 in Shanghai (UTC+8) is 01:00 UTC
    assert by_point["co2"].ts == 1795395600 * 10**9


def test_lorawan_chirpstack_v4() -> None:
    doc = {
        "deduplicationId": "x",
        "time": "2026-11-23T01:00:00.123Z",
        "deviceInfo": {"deviceName": "B-101-env", "devEui": "0102030405060708", "applicationId": "a"},
        "fPort": 2,
        "data": "AQ==",
        "object": {"temperature": 23.4, "humidity": 55.1, "co2": 812},
    }
    d = decode(
        sub("lorawan"),
        "application/a/device/0102030405060708/event/up",
        json.dumps(doc).encode(),
        1795395600_123_000_000 + 10**9,
        TZ,
    )
    assert {x.point: x.value for x in d.samples} == {"temperature": 23.4, "humidity": 55.1, "co2": 812.0}
    assert {x.ts for x in d.samples} == {1795395600_123_000_000}
    assert {x.device for x in d.samples} == {"B-101-env"}


@pytest.mark.parametrize(
    ("fmt", "topic", "payload", "reason"),
    [
        ("zigbee2mqtt", "zigbee2mqtt/A-201-occ", b"{not json", "not valid JSON"),
        ("zigbee2mqtt", "zigbee2mqtt/A-201-occ", b"[1,2]", r"\[0\]: expected a JSON object, got int"),
        (
            "zigbee2mqtt",
            "zigbee2mqtt/A-201-occ",
            b'{"warmth":3}',
            r"no known measurement keys \(unknown: warmth;",
        ),
        ("zigbee2mqtt", "zigbee2mqtt/", b'{"temperature":1}', "names no device"),
        (
            "tasmota",
            "tele/A-1/SENSOR",
            b'{"Time":"yesterday","AM2301":{"Temperature":1}}',
            "field 'Time': bad timestamp",
        ),
        (
            "lorawan",
            "application/a/device/b/event/up",
            b'{"deviceInfo":{"deviceName":"x"}}',
            "missing decoded field 'object'",
        ),
        ("lorawan", "application/a/device/b/event/up", b'{"object":{}}', "deviceInfo.deviceName"),
    ],
)
def test_unusable_payloads_raise_with_reason(fmt: str, topic: str, payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        decode(sub(fmt), topic, payload, RX, TZ)


def test_partly_bad_payload_keeps_good_fields_and_reports_problems() -> None:
    d = decode(sub("zigbee2mqtt"), "zigbee2mqtt/A-1", b'{"temperature":"hot","humidity":50}', RX, TZ)
    assert [x.point for x in d.samples] == ["humidity"]
    assert d.problems == ["field 'temperature': expected a number, got 'hot'"]


def test_bridge_messages_are_ignored_not_quarantined() -> None:
    assert decode(sub("zigbee2mqtt"), "zigbee2mqtt/bridge/state", b'{"state":"online"}', RX, TZ).ignored
    only_battery = decode(sub("zigbee2mqtt"), "zigbee2mqtt/A-1", b'{"linkquality":3,"battery":90}', RX, TZ)
    assert only_battery.ignored == "no telemetry values: not telemetry: linkquality; not telemetry: battery"


def test_custom_mapping_with_topic_level_and_epoch_timestamp() -> None:
    s = sub(
        "custom",
        topic="school/+/env",
        device="{1}",
        timestamp=TimestampMapping(path="ts", format="epoch_ms"),
        points=[
            PointMapping(path="vals[0].t", point="temp", quantity="temperature", unit="°F", valid_max=150),
            PointMapping(path="missing", point="rh", quantity="humidity", unit="%"),
        ],
    )
    d = decode(s, "school/C-101-x/env", b'{"ts": 1763000000000, "vals": [{"t": 70}]}', RX, TZ)
    assert [(x.device, x.point, x.value, x.unit, x.valid_max) for x in d.samples] == [
        ("C-101-x", "temp", 70.0, "°F", 150)
    ]
    assert d.samples[0].ts == 1763000000000 * 10**6
    assert d.problems == ["path 'missing': no key 'missing'"]


@pytest.mark.parametrize(
    ("fmt", "topic", "payload"),
    [
        ("zigbee2mqtt", "zigbee2mqtt/A-201-occ", b'{"illuminance":320}'),
        ("tasmota", "tele/A-201-lux/SENSOR", b'{"BH1750":{"Illuminance":320}}'),
    ],
)
def test_exact_topic_filter_takes_device_from_the_formats_position(
    fmt: str, topic: str, payload: bytes
) -> None:
    """One subscription per device (no wildcard), as generated per gateway from a manifest."""
    d = decode(sub(fmt, topic=topic), topic, payload, RX, TZ)
    assert {x.device for x in d.samples} == {topic.split("/")[1]}


def test_decoder_counts_skips_and_lists_unknown_keys_per_device() -> None:
    from edge_agent.sources.mqtt.formats import MqttDecoder

    dec = MqttDecoder(TZ)
    z2m = sub("zigbee2mqtt")
    dec.decode(z2m, "zigbee2mqtt/bldA/c308 env", b'{"temperature":21,"humidity":null,"mystery":4}', RX)
    dec.decode(z2m, "zigbee2mqtt/bridge/state", b'{"state":"online"}', RX)
    assert dec.stats.summary() == {
        "forwarded_total": 1,
        "skipped_messages": {"Zigbee2MQTT bridge message (state, logging, config)": 1},
        "skipped_fields": {"null field": 1},
        "unknown_keys": {"bldA.c308:20env": ["mystery"]},
        "names": {"bldA.c308:20env": "bldA/c308 env"},
    }
