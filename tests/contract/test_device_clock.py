"""One device-clock rule for the agent and ingest: not set (before 2020) or ahead by more than
the skew → stamped at receipt, quality uncertain with the reason; never lost, never in the future."""

from __future__ import annotations

import json

from contract.telemetry import Quality, decode_batch, decode_rows
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
    (a, b, c) = batch.rows
    assert (a[5], a[6]) == (RX, Quality.UNCERTAIN) and a[7] and a[7].startswith("device clock skewed")
    assert (
        (b[5], b[6]) == (RX, Quality.UNCERTAIN)
        and b[7]
        and b[7].startswith("out of range; device clock not set")
    )
    assert (c[5], c[6], c[7]) == (RX - S, Quality.GOOD, None)


def test_both_decoders_agree_on_restamped_rows() -> None:
    payload = _payload(["A-1", "t", "temperature", 23.4, "°C", 192 * S, "g"])
    (row,) = decode_rows(payload).rows
    (reading,) = decode_batch(payload).readings
    assert (
        (reading.ts, reading.quality, reading.reason)
        == (row[5], row[6], row[7])
        == (RX, Quality.UNCERTAIN, row[7])
    )
