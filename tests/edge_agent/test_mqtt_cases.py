"""Data-driven MQTT southbound cases: tests/cases/mqtt/<case>/ (payloads as a campus technician
meets them → what the agent forwards, skips by rule or quarantines).

`case.yaml`: `subscription` (agent config entry), `received` (ISO time the messages arrive),
`timezone`, and `messages`, each with `topic`, one of `payload` (YAML → JSON), `payload_text`
(raw) or `payload_file`, optional `retained: true` (the broker replayed it on subscribing), and
`expect`:
- `readings`: [device, point, quantity, value, unit, quality] after the agent's normaliser
  (canonical unit, rounded to resolution), optional `ts` (ISO, all readings) and `reason`
  (substring of every non-good reading's reason);
- `skipped`: substring of the skip rule; `quarantine`: substring of the quarantine reason;
- `fields_skipped`, `unknown_keys`, `device_name`: what the decoder counted and kept;
- `fresh: false`: the message must not count as the device being alive (a retained state).
`round_trip: true` re-encodes the expected readings with the simulators' encoder (formats it
publishes) and expects the same readings back.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contract.device_names import device_name
from contract.yamlio import load_yaml, to_plain
from device_profiles.mqtt_format import carried, simulated_format
from edge_agent.config import Subscription
from edge_agent.normalise import Normaliser
from edge_agent.sources.mqtt.formats import Decoded, MqttDecoder, PayloadError
from simulators import mqtt_formats
from tests.support.cases import load_cases

CASE_DIRS = [c.dir for c in load_cases("mqtt")]


def _ns(text: str) -> int:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


def _payload(case_dir: Path, msg: dict[str, Any]) -> bytes:
    if "payload_text" in msg:
        return str(msg["payload_text"]).encode()
    if "payload_file" in msg:
        return (case_dir / msg["payload_file"]).read_bytes()
    return json.dumps(msg["payload"], ensure_ascii=False).encode()


def _rows(decoded: Decoded) -> tuple[list[list[Any]], list[Any]]:
    readings, rejects = Normaliser("case", "gw").normalise(decoded.samples)
    assert not rejects, [r.reason for r in rejects]
    rows = [[r.device, r.point, r.quantity, r.value, r.unit, r.quality.value] for r in readings]
    return rows, readings


def _check(case_dir: Path, decoder: MqttDecoder, sub: Subscription, msg: dict[str, Any], rx: int) -> None:
    expect = msg["expect"]
    topic = msg["topic"]
    try:
        decoded = decoder.decode(sub, topic, _payload(case_dir, msg), rx, bool(msg.get("retained")))
    except PayloadError as exc:
        assert "quarantine" in expect, f"{case_dir.name}: unexpected quarantine: {exc}"
        assert expect["quarantine"] in str(exc), str(exc)
        return
    assert "quarantine" not in expect or decoded.problems, f"{case_dir.name}: expected a quarantine"
    if "quarantine" in expect:
        assert expect["quarantine"] in "; ".join(decoded.problems), decoded.problems
    else:
        assert not decoded.problems, decoded.problems
    if "skipped" in expect:
        assert decoded.ignored and expect["skipped"] in decoded.ignored, decoded.ignored
        assert not decoded.samples
    else:
        assert decoded.ignored is None, decoded.ignored
    rows, readings = _rows(decoded)
    assert rows == expect.get("readings", []), f"{case_dir.name} {topic}"
    if "ts" in expect:
        assert {r.ts for r in readings} == {_ns(expect["ts"])}
    for r in readings:
        if r.quality.value != "good":
            assert r.reason and expect.get("reason", "") in r.reason, r.reason
    assert decoded.skipped == expect.get("fields_skipped", []), decoded.skipped
    assert decoded.unknown_keys == expect.get("unknown_keys", []), decoded.unknown_keys
    assert decoded.device_name == expect.get("device_name"), decoded.device_name
    assert decoded.fresh is expect.get("fresh", True), decoded.fresh
    if decoded.device_name is not None:  # reversible: the id gives the friendly name back
        assert device_name(decoded.samples[0].device) == decoded.device_name


@pytest.mark.parametrize("case_dir", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_mqtt_case(case_dir: Path) -> None:
    case = to_plain(load_yaml(case_dir / "case.yaml"))
    assert (case_dir / "README.md").read_text(encoding="utf-8").strip(), "each case says what it pins"
    sub = Subscription.model_validate(case["subscription"])
    decoder = MqttDecoder(ZoneInfo(case.get("timezone", "Asia/Shanghai")))
    rx = _ns(case["received"])
    for msg in case["messages"]:
        _check(case_dir, decoder, sub, msg, rx)


ROUND_TRIP = [p for p in CASE_DIRS if to_plain(load_yaml(p / "case.yaml")).get("round_trip")]


@pytest.mark.parametrize("case_dir", ROUND_TRIP, ids=[p.name for p in ROUND_TRIP])
def test_mqtt_case_round_trips_through_the_simulators_encoder(case_dir: Path) -> None:
    """The simulators publish what the agent decodes back to the same readings."""
    case = to_plain(load_yaml(case_dir / "case.yaml"))
    fmt = case["subscription"]["format"]
    rx = _ns(case["received"])
    tz = ZoneInfo(case.get("timezone", "Asia/Shanghai"))
    table = carried(simulated_format(fmt))
    by_point = {kp.point: q for q, kp in table.items()}
    msg = next(m for m in case["messages"] if m["expect"].get("readings"))
    expected = msg["expect"]["readings"]
    device = msg["expect"].get("device_name", expected[0][0])  # the friendly name the sensor has
    values = {by_point[point]: value for _, point, _, value, _, _ in expected}
    if fmt == "zigbee2mqtt":
        m = mqtt_formats.zigbee2mqtt(device, values, linkquality=100, battery=90)
    elif fmt == "tasmota":
        m = mqtt_formats.tasmota(device, values, t_ns=rx - 2_000_000_000, tz=tz)
    else:
        import uuid

        m = mqtt_formats.lorawan(
            device,
            values,
            site="t",
            t_ns=rx - 1_000_000_000,
            f_cnt=1,
            dedup=uuid.UUID(int=1),
            rssi=-80,
            snr=7.5,
        )
    decoded = MqttDecoder(tz).decode(
        Subscription.model_validate(case["subscription"]), m.topic, m.payload, rx
    )
    rows, _ = _rows(decoded)
    assert sorted(rows) == sorted(expected)
