"""One device-clock rule for the agent and ingest: not set (before 2020) or ahead by more than
the skew → stamped at receipt, quality uncertain with the reason; never lost, never in the future."""

from __future__ import annotations

import json

from contract.telemetry import Quality, as_rows, decode_batch, decode_rows
from contract.timestamps import check_device_time

RX = 1_795_395_600_000_000_000  # 2026-11-23T01:00:00Z
S = 1_000_000_000


def test_rule() -> None:
    assert check_device_time(RX - 3600 * S, RX) == (RX - 3600 * S, None)  # a buffered hour-old reading
    assert check_device_time(RX + 299 * S, RX) == (RX + 299 * S, None)  # within the default 5 min
    ts, reason = check_device_time(RX + 301 * S, RX)
    assert ts == RX and reason and reason.startswith("device clock skewed: device time 2026-11-23T01:05:01Z")
    ts, reason = check_device_time(192 * S, RX)
    assert (
        ts == RX and reason == "device clock not set (device time 1970-01-01T00:03:12Z); stamped at receipt"
    )


def _payload(*rows: list[object]) -> bytes:
    return json.dumps({"v": 1, "site": "s", "agent": "gw", "seq": 1, "sent": RX, "r": list(rows)}).encode()


def test_decoding_restamps_rows_of_any_agent_against_the_batch_sent_time() -> None:
    future = 1_935_000_000_000_000_000  # 2031
    batch = decode_rows(
        _payload(
            ["A-1", "t", "temperature", 23.4, "°C", future, "g"],
            ["A-1", "t", "temperature", 23.5, "°C", 192 * S, "u", "out of range"],
            ["A-1", "t", "temperature", 23.6, "°C", RX - S, "g"],
        ),
        "campus/s/gw/telemetry",
    )
    (a, b, c) = as_rows(batch.rows)
    assert (a[5], a[6]) == (RX, Quality.UNCERTAIN) and a[7] and a[7].startswith("device clock skewed")
    assert (
        (b[5], b[6]) == (RX, Quality.UNCERTAIN)
        and b[7]
        and b[7].startswith("out of range; device clock not set")
    )
    assert (c[5], c[6], c[7]) == (RX - S, Quality.GOOD, None)


def test_both_decoders_agree_on_restamped_rows() -> None:
    payload = _payload(["A-1", "t", "temperature", 23.4, "°C", 192 * S, "g"])
    (row,) = as_rows(decode_rows(payload).rows)
    (reading,) = decode_batch(payload).readings
    assert (
        (reading.ts, reading.quality, reading.reason)
        == (row[5], row[6], row[7])
        == (RX, Quality.UNCERTAIN, row[7])
    )


def test_the_allowed_skew_is_configurable_in_the_agent_and_ingest(tmp_path: object) -> None:
    """`mqtt.max_clock_skew_s` (agent) and `max_clock_skew_s` (ingest) widen or narrow the rule:
    a reading 10 min ahead is restamped with the default 5 min, kept with 1 h."""
    import time
    from pathlib import Path

    from edge_agent.config import load_agent_config
    from edge_agent.runtime import Agent
    from edge_agent.sources.mqtt.source import MqttSource
    from ingest.config import load_config
    from ingest.pipeline import Decoded, Incoming

    assert isinstance(tmp_path, Path)
    now = time.time_ns()
    ahead = now + 600 * S
    payload = json.dumps(
        {
            "v": 1,
            "site": "s",
            "agent": "gw",
            "seq": 1,
            "sent": now,
            "r": [["A-1", "t", "co2", 500, "ppm", ahead, "g"]],
        }
    ).encode()
    assert decode_rows(payload).rows[0][5] != ahead  # default 5 min: restamped
    assert decode_rows(payload, None, 3600).rows[0][5] == ahead
    assert decode_batch(payload, None, 3600).readings[0].ts == ahead

    ing = tmp_path / "ingest.yaml"
    ing.write_text("max_clock_skew_s: 3600\n", encoding="utf-8")
    cfg = load_config(ing)
    assert cfg.max_clock_skew_s == 3600
    for skew, kept in ((cfg.max_clock_skew_s, True), (300.0, False)):
        d = Decoded(max_skew_s=skew)
        assert d.add(Incoming("campus/s/gw/telemetry", payload, 1, 1, now), lambda *_: {}) == 1
        assert (d.batches[0][0].rows[0][5] == ahead) is kept
    ing.write_text("max_clock_skew_s: 0\n", encoding="utf-8")
    try:
        load_config(ing)
    except ValueError as exc:
        assert "ingest.yaml:1:" in str(exc) and "max_clock_skew_s" in str(exc)
    else:
        raise AssertionError("a zero skew must be refused")

    agent_yaml = tmp_path / "agent.yaml"
    agent_yaml.write_text(
        f"site: s\nagent: gw\nbuffer: {{path: {tmp_path / 'b.sqlite'}}}\n"
        "mqtt:\n  subscriptions: [{format: json}]\n  max_clock_skew_s: 3600\n",
        encoding="utf-8",
    )
    agent_cfg = load_agent_config(agent_yaml)
    assert agent_cfg.mqtt is not None and agent_cfg.mqtt.max_clock_skew_s == 3600
    mqtt = Agent(agent_cfg).source("mqtt")
    assert isinstance(mqtt, MqttSource) and mqtt.decoder.max_skew_s == 3600
