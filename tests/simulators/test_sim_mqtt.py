"""MQTT sensor formats and faults, published on a real Mosquitto and read back by a subscriber."""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from campus_twin.servers import Mosquitto
from contract.secrets import SecretError, SecretRef, TlsSettings
from contract.telemetry import MAX_PAYLOAD_BYTES
from simulators import mqtt_formats as fmts
from simulators.mqtt_faults import MQTT_FAULTS, faulty, inject
from simulators.mqtt_link import BrokerOptions, MqttLink
from simulators.mqtt_sim import MqttSensor, MqttSensorSimulator

TZ = ZoneInfo("Asia/Shanghai")
T_NS = int(dt.datetime(2026, 11, 23, 9, 0, 0, 123000, tzinfo=TZ).timestamp() * 1e9)
VALUES = {
    "temperature": np.array([23.44, 19.0]),
    "humidity": np.array([55.16, 60.0]),
    "illuminance": np.array([320.4, 0.0]),
    "co2": np.array([812.3, 450.0]),
    "occupancy": np.array([31.0, 0.0]),
    "pm25": np.array([12.2, 3.0]),
}


def sensors() -> list[MqttSensor]:
    return [
        MqttSensor(
            "A-201-occ", "zigbee2mqtt", ("temperature", "humidity", "illuminance", "occupancy", "co2"), 0
        ),
        MqttSensor("A-202-lux", "tasmota", ("temperature", "humidity", "illuminance", "co2", "pm25"), 0),
        MqttSensor("B-102-env", "lorawan", ("temperature", "humidity", "co2"), 0),
        MqttSensor("A-105-th", "zigbee2mqtt", ("temperature", "humidity", "occupancy"), 1),
    ]


@pytest.fixture
def link(mosquitto: Mosquitto) -> Iterator[MqttLink]:
    lk = MqttLink(BrokerOptions(host=mosquitto.host, port=mosquitto.port))
    lk.connect()
    yield lk
    lk.close()


def test_three_formats_land_on_mosquitto_as_specified(link: MqttLink, recorder: Callable[..., Any]) -> None:
    rec = recorder("zigbee2mqtt/#", "tele/+/SENSOR", "application/+/device/+/event/up")
    sim = MqttSensorSimulator(sensors(), site="sz-demo-school", seed=3)
    assert sim.publish_all(link, VALUES, T_NS) == 4
    rec.wait_for(lambda m: len(m) >= 4)

    (z,) = rec.on("zigbee2mqtt/A-201-occ")
    doc = json.loads(z)
    assert doc["temperature"] == 23.4 and doc["humidity"] == 55.2 and doc["illuminance"] == 320
    assert doc["occupancy"] is True and doc["co2"] == 812
    assert 0 <= doc["linkquality"] <= 255 and 0 <= doc["battery"] <= 100
    assert "time" not in doc and "Time" not in doc  # zigbee2mqtt sends no timestamp
    assert json.loads(rec.on("zigbee2mqtt/A-105-th")[0])["occupancy"] is False

    (t,) = rec.on("tele/A-202-lux/SENSOR")
    doc = json.loads(t)
    assert doc["Time"] == "2026-11-23T09:00:00"  # campus-local, no zone
    assert doc["AM2301"] == {"Temperature": 23.4, "Humidity": 55.2}
    assert doc["BH1750"] == {"Illuminance": 320}
    assert doc["SCD40"] == {"CarbonDioxide": 812}
    assert doc["SDS0X1"] == {"PM2.5": 12}
    assert doc["TempUnit"] == "C"

    eui = fmts.dev_eui("B-102-env")
    app = fmts.application_id("sz-demo-school")
    (lw,) = rec.on(f"application/{app}/device/{eui}/event/up")
    doc = json.loads(lw)
    assert doc["time"] == "2026-11-23T01:00:00.123Z"  # UTC with milliseconds
    assert doc["deviceInfo"]["deviceName"] == "B-102-env"
    assert doc["deviceInfo"]["devEui"] == eui and len(eui) == 16
    assert doc["deviceInfo"]["applicationId"] == app
    assert doc["fPort"] == 2 and doc["fCnt"] == 1
    assert doc["object"] == {"temperature": 23.4, "humidity": 55.0, "co2": 812}
    # the raw frame is Cayenne LPP and decodes to the same object
    frame = base64.b64decode(doc["data"])
    assert frame[:4] == bytes([1, 103, 0, 234]) and frame[4:7] == bytes([2, 104, 110])
    assert frame[7:] == bytes([3, 125]) + (812).to_bytes(2, "big")
    assert len({doc["deduplicationId"]}) == 1 and doc["deduplicationId"].count("-") == 4


def test_sensors_publish_at_the_configured_rate_phase_shifted() -> None:
    sim = MqttSensorSimulator(sensors(), site="s", interval_s=10.0, seed=1)
    counts = []
    for second in range(0, 60):
        counts.append(len(sim.messages_due(float(second), VALUES, T_NS)))
    assert sum(counts) == 4 * 6  # every sensor once per 10 s over a minute
    assert max(counts) < 4  # not all at the same instant
    # a stall does not turn into a catch-up burst
    assert len(sim.messages_due(200.0, VALUES, T_NS)) == 4
    after = [len(sim.messages_due(200.0 + 0.5 * i, VALUES, T_NS)) for i in range(1, 21)]
    assert sum(after) == 4  # then back on each sensor's own 10 s phase


def test_a_format_refuses_quantities_it_cannot_carry() -> None:
    with pytest.raises(ValueError, match=r"A-1-x.*tasmota.*noise"):
        MqttSensorSimulator([MqttSensor("A-1-x", "tasmota", ("noise",), 0)], site="s")


def _observed(kind: str, payload: bytes, count: int) -> None:
    """What a subscriber can tell about each fault from the bytes alone."""
    if kind == "malformed":
        with pytest.raises(ValueError):
            json.loads(payload)
    elif kind == "oversized":
        assert len(payload) > MAX_PAYLOAD_BYTES
        json.loads(payload)
    elif kind == "nan":
        assert b"NaN" in payload or b"Infinity" in payload
        with pytest.raises(ValueError):
            json.loads(payload, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        values = _measurements(json.loads(payload))
        assert values and all(isinstance(v, float) and not math.isfinite(v) for v in values)
    elif kind == "wrong_types":
        values = _measurements(json.loads(payload))
        assert values and all(isinstance(v, str | list | dict) for v in values)
    elif kind == "missing_fields":
        doc = json.loads(payload)
        assert not ({"temperature", "AM2301", "object", "deviceInfo"} & set(doc))
    elif kind == "burst":
        assert count >= 50


ENVELOPE = {"linkquality", "battery", "Time", "TempUnit"}


def _measurements(doc: dict[str, object]) -> list[object]:
    """Values where a decoder expects measurements, per format."""
    if isinstance(doc.get("object"), dict):
        return list(doc["object"].values())  # type: ignore[union-attr]
    out: list[object] = []
    for k, v in doc.items():
        if k in ENVELOPE:
            continue
        out += list(v.values()) if isinstance(v, dict) and k[0].isupper() else [v]
    return out


@pytest.mark.parametrize("kind", MQTT_FAULTS)
@pytest.mark.parametrize("fmt_index", [0, 1, 2], ids=["zigbee2mqtt", "tasmota", "lorawan"])
def test_each_mqtt_fault_is_observable_by_a_subscriber(
    kind: str, fmt_index: int, link: MqttLink, recorder: Callable[..., Any]
) -> None:
    sim = MqttSensorSimulator(sensors(), site="sz-demo-school")
    sensor = sim.sensors[fmt_index]
    good = sim.message(sensor, VALUES, T_NS)
    rec = recorder(good.topic)
    msgs = faulty(kind, good, count=60)  # type: ignore[arg-type]
    assert inject(link, msgs) == len(msgs)
    rec.wait_for(lambda m: len(m) >= len(msgs), timeout=20)
    got = rec.on(good.topic)
    assert len(got) == len(msgs)
    for payload in got[:3]:
        assert payload != good.payload or kind == "burst"
        _observed(kind, payload, len(got))


def test_password_is_taken_by_reference(
    make_mosquitto: Callable[..., Mosquitto], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broker = make_mosquitto(username="sim", password="s3cret")
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    monkeypatch.setenv("SIM_MQTT_PW", "s3cret")
    monkeypatch.setenv("SIM_MQTT_BAD", "wrong")
    for ref in ({"env": "SIM_MQTT_PW"}, {"file": pw}):
        opts = BrokerOptions(host=broker.host, port=broker.port, username="sim", password=SecretRef(**ref))
        assert "s3cret" not in repr(opts) and "s3cret" not in opts.model_dump_json()
        lk = MqttLink(opts)
        lk.connect()
        assert lk.connected
        lk.close()
    bad = MqttLink(
        BrokerOptions(
            host=broker.host, port=broker.port, username="sim", password=SecretRef(env="SIM_MQTT_BAD")
        )
    )
    with pytest.raises(ConnectionError, match="refused"):
        bad.connect(timeout=3)
    bad.close()
    with pytest.raises(SecretError, match="NOT_SET_VAR"):
        MqttLink(BrokerOptions(username="u", password=SecretRef(env="NOT_SET_VAR")))


def test_broker_options_from_command_line(tmp_path: Path) -> None:
    from simulators.cli import _broker, _broker_args

    p = argparse.ArgumentParser()
    _broker_args(p)
    args = p.parse_args(["--mqtt-username", "sim", "--mqtt-password-file", "pw", "--mqtt-ca", "ca.pem"])
    opts = _broker(args, "10.0.0.5:8883", "sim-1")
    assert (opts.host, opts.port, opts.client_id) == ("10.0.0.5", 8883, "sim-1")
    assert opts.password == SecretRef(file=Path("pw"))
    assert opts.tls == TlsSettings(ca_file=Path("ca.pem"))
    plain = _broker(p.parse_args([]), "127.0.0.1:1883", "")
    assert plain.tls is None and plain.password is None
    assert _broker(p.parse_args(["--mqtt-tls"]), "h:1", "").tls == TlsSettings()
    with pytest.raises(SystemExit):  # one password source only
        p.parse_args(["--mqtt-password-env", "X", "--mqtt-password-file", "f"])
    with pytest.raises(ValueError, match="host:port"):
        BrokerOptions.parse("localhost")
