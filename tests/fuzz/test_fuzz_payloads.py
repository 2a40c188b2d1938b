"""Generated malformed payloads through the agent's sensor decoders and ingest's validator.

Property: the only exceptions are the documented ones (`PayloadError` from the agent's
`decode`, `TelemetryError` from the contract), every reject carries a non-empty reason, and
ingest's fast row decoder accepts and rejects exactly what the pydantic validator does.
Derandomized so CI sees the same 8,700 examples every run (10,200 with the config fuzz).
"""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.telemetry import CANONICAL_UNITS, TelemetryError, decode_batch, decode_rows, topic
from edge_agent.config import Subscription
from edge_agent.sources.mqtt.formats import Decoded, PayloadError, decode
from ingest.pipeline import Decoded as IngestDecoded
from ingest.pipeline import Incoming

FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TZ = ZoneInfo("Asia/Shanghai")
NOW = 1_795_430_400 * 10**9
KEYS = [
    "temperature",
    "humidity",
    "co2",
    "illuminance",
    "occupancy",
    "pm25",
    "Time",
    "AM2301",
    "BH1750",
    "Temperature",
    "Illuminance",
    "deviceInfo",
    "deviceName",
    "object",
    "time",
    "data",
    "ts",
    "env",
    "t",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["", "23.4", "ON", "2026-11-23T09:00:00", "2026-13-45T99:00:00Z", "NaN", "A-201-th"])
)
JSON = st.recursive(
    SCALARS,
    lambda c: (
        st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), c, max_size=5)
    ),
    max_leaves=15,
)
SUBS = [
    Subscription(format="zigbee2mqtt"),
    Subscription(format="tasmota"),
    Subscription(format="lorawan"),
    Subscription.model_validate(
        {
            "format": "custom",
            "topic": "vendor/+/data",
            "device": "{1}",
            "timestamp": {"path": "ts", "format": "epoch_ms"},
            "points": [{"path": "env.t[0]", "point": "temperature", "quantity": "temperature", "unit": "°F"}],
        }
    ),
    Subscription.model_validate(
        {
            "format": "custom",
            "topic": "meta/#",
            "device": "$deviceInfo.deviceName",
            "timestamp": {"path": "time", "format": "iso8601"},
            "points": [{"path": "co2", "point": "co2", "quantity": "co2", "unit": "ppm"}],
        }
    ),
]
TOPICS = {
    "zigbee2mqtt": st.sampled_from(["zigbee2mqtt/A-201-th", "zigbee2mqtt/", "zigbee2mqtt/bad id!", "x"]),
    "tasmota": st.sampled_from(["tele/A-202-lux/SENSOR", "tele//SENSOR", "tele/ü/SENSOR"]),
    "lorawan": st.just("application/a/device/0102/event/up"),
    "custom": st.sampled_from(["vendor/A-1-x/data", "vendor//data", "meta/x", "vendor"]),
}


def structured(fmt: str) -> st.SearchStrategy[Any]:
    """Payloads near the real layout, with any field replaced by anything."""
    if fmt == "tasmota":
        return st.fixed_dictionaries(
            {},
            optional={
                "Time": JSON | st.just("2026-11-23T09:00:00"),
                "AM2301": JSON | st.fixed_dictionaries({}, optional={"Temperature": JSON, "Humidity": JSON}),
                "BH1750": JSON | st.fixed_dictionaries({}, optional={"Illuminance": JSON}),
                "TempUnit": JSON | st.sampled_from(["C", "F", "K"]),
            },
        )
    if fmt == "lorawan":
        return st.fixed_dictionaries(
            {},
            optional={
                "time": JSON | st.just("2026-11-23T01:00:00.123Z"),
                "deviceInfo": JSON
                | st.fixed_dictionaries({}, optional={"deviceName": JSON | st.just("B-1-env")}),
                "object": JSON | st.dictionaries(st.sampled_from(KEYS), JSON, max_size=4),
            },
        )
    return st.dictionaries(st.sampled_from(KEYS), JSON, max_size=6)


def check_decoded(sub: Subscription, topic_name: str, payload: bytes) -> None:
    try:
        out = decode(sub, topic_name, payload, NOW, TZ)
    except PayloadError as exc:
        assert str(exc).strip(), "a rejected payload needs a reason"
        return
    assert isinstance(out, Decoded)
    assert all(isinstance(p, str) and p.strip() for p in out.problems), out.problems
    assert out.ignored is None or out.ignored.strip()
    for s in out.samples:
        assert s.device and s.point


@settings(FUZZ, max_examples=2700)
@given(st.data())
def test_agent_decoders_structured_payloads(data: st.DataObject) -> None:
    sub = data.draw(st.sampled_from(SUBS))
    doc = data.draw(structured(sub.format) | JSON)
    text = json.dumps(doc, allow_nan=True)  # NaN/Infinity literals included, as some firmware sends
    check_decoded(sub, data.draw(TOPICS[sub.format]), text.encode())


@settings(FUZZ, max_examples=1500)
@given(st.sampled_from(SUBS), st.binary(max_size=200) | st.text(max_size=100).map(str.encode))
def test_agent_decoders_arbitrary_bytes(sub: Subscription, payload: bytes) -> None:
    check_decoded(
        sub,
        {"zigbee2mqtt": "zigbee2mqtt/A-1-x", "tasmota": "tele/A-1-x/SENSOR"}.get(
            sub.format, "vendor/A-1-x/data"
        ),
        payload,
    )


def valid_batch() -> dict[str, Any]:
    rows = [
        ["A-201-th", "temperature", "temperature", 23.4, CANONICAL_UNITS["temperature"], NOW, "g"],
        ["A-201-th", "humidity", "humidity", None, CANONICAL_UNITS["humidity"], NOW, "b", "timeout"],
    ]
    return {"v": 1, "site": "sz-demo", "agent": "gw-A", "seq": 7, "sent": NOW, "r": rows}


@st.composite
def mutated_batch(draw: st.DrawFn) -> bytes:
    """A valid batch with a few fields (envelope or row items) replaced, removed or appended."""
    doc = valid_batch()
    for _ in range(draw(st.integers(1, 3))):
        where = draw(
            st.sampled_from(["v", "site", "agent", "seq", "sent", "r", "row", "item", "drop", "extra"])
        )
        if where == "row":
            doc["r"] = list(doc["r"]) if isinstance(doc.get("r"), list) else []
            doc["r"].append(draw(JSON))
        elif (
            where == "item" and isinstance(doc.get("r"), list) and doc["r"] and isinstance(doc["r"][0], list)
        ):
            row = list(doc["r"][0])
            i = draw(st.integers(0, len(row)))
            if i == len(row):
                row.append(draw(JSON))
            else:
                row[i] = draw(JSON)
            doc["r"][0] = row
        elif where == "drop":
            doc.pop(draw(st.sampled_from(sorted(doc))), None)
        elif where == "extra":
            doc[draw(st.text(max_size=5))] = draw(JSON)
        else:
            doc[where] = draw(JSON)
    return json.dumps(doc, allow_nan=True).encode()


def classify(fn: Any, payload: bytes) -> str | None:
    """None when accepted, else the reason (must be a TelemetryError with text)."""
    try:
        fn(payload, "campus/sz-demo/gw-A/telemetry")
    except TelemetryError as exc:
        assert str(exc).strip() and exc.message.strip()
        return str(exc)
    return None


@settings(FUZZ, max_examples=3000)
@given(mutated_batch() | st.binary(max_size=120) | JSON.map(lambda d: json.dumps(d, allow_nan=True).encode()))
def test_ingest_validator_rejects_with_reasons_and_fast_path_agrees(payload: bytes) -> None:
    slow, fast = classify(decode_batch, payload), classify(decode_rows, payload)
    assert (slow is None) == (fast is None), f"decode_batch: {slow!r}, decode_rows: {fast!r}"
    if slow is not None:
        assert slow == fast, "both paths give the same reason"


@settings(FUZZ, max_examples=1500)
@given(
    st.sampled_from(
        [
            topic("sz-demo", "gw-A", "telemetry"),
            topic("sz-demo", "gw-B", "telemetry"),
            topic("sz-demo", "gw-A", "status"),
            "campus/sz-demo/gw-A/other",
            "campus/bad id/gw-A/telemetry",
            "campus/x",
        ]
    ),
    mutated_batch() | st.binary(max_size=80),
)
def test_ingest_pipeline_every_reject_has_a_reason(topic_name: str, payload: bytes) -> None:
    decoded = IngestDecoded()
    added = decoded.add(Incoming(topic_name, payload, 1, 1, NOW), lambda *k: {})
    assert added == decoded.n_points
    assert len(decoded.rejects) + len(decoded.batches) + len(decoded.statuses) == 1, "one outcome per message"
    for rej in decoded.rejects:
        assert rej.reason.strip() and rej.klass in ("topic", "contract", "origin")
        assert rej.payload == payload, "the quarantine keeps the original payload"
