from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.telemetry import (
    CANONICAL_UNITS,
    Quality,
    Reading,
    RowTemplate,
    TelemetryError,
    decode_batch,
    decode_status,
    encode_batch,
    encode_row_values,
    encode_status,
    make_batch,
    parse_topic,
    subscription,
    topic,
)
from contract.telemetry import Status as StatusMsg

TS = 1_763_000_000_000_000_000


def reading(**kw: object) -> Reading:
    base: dict[str, object] = dict(
        site="sz-01",
        agent="gw-A",
        device="A-201-air",
        point="co2",
        quantity="co2",
        value=812.0,
        unit="ppm",
        ts=TS,
    )
    base.update(kw)
    return Reading.model_validate(base)


def test_round_trip_keeps_every_field() -> None:
    rs = [
        reading(),
        reading(point="t", quantity="temperature", unit="°C", value=23.5, ts=TS + 1),
        reading(value=None, quality=Quality.BAD, reason="timeout after 1.0s"),
        reading(value=5000.0, quality=Quality.UNCERTAIN, reason="above valid range 0..5000"),
    ]
    batch = make_batch("sz-01", "gw-A", 7, TS + 5, rs)
    back = decode_batch(encode_batch(batch), "campus/sz-01/gw-A/telemetry")
    assert back == batch


@given(
    values=st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=50),
    seq=st.integers(min_value=0, max_value=2**53),
)
def test_round_trip_property(values: list[float], seq: int) -> None:
    rs = [reading(value=v, ts=TS + i) for i, v in enumerate(values)]
    batch = make_batch("sz-01", "gw-A", seq, TS, rs)
    assert decode_batch(encode_batch(batch)) == batch


def _payload(**over: object) -> bytes:
    doc: dict[str, object] = {
        "v": 1,
        "site": "sz-01",
        "agent": "gw-A",
        "seq": 1,
        "sent": TS,
        "r": [["A-201-air", "co2", "co2", 800.0, "ppm", TS, "g"]],
    }
    doc.update(over)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"not json", "not valid JSON"),
        (b"[1,2]", "expected a JSON object"),
        (_payload(v=2), "field 'v'"),
        (_payload(r="x"), "field 'r'"),
        (_payload(r=[["d", "p"]]), "field 'r[0]'"),
        (_payload(r=[["A-201-air", "co2", "co2", 800.0, "ppm", TS, "x"]]), "r[0].quality"),
        (_payload(r=[["A-201-air", "co2", "co2", 800.0, "%", TS, "g"]]), "canonical"),
        (_payload(r=[["A-201-air", "co2", "smell", 800.0, "ppm", TS, "g"]]), "r[0].quantity"),
        (
            _payload(r=[["A-201-air", "co2", "co2", 800.0, "ppm", 12.5, "g"]]),
            "r[0].ts",
        ),  # 1970 ints: restamped
        (_payload(r=[["A-201-air", "co2", "co2", None, "ppm", TS, "g"]]), "quality good"),
        (_payload(r=[["A-201-air", "co2", "co2", None, "ppm", TS, "b"]]), "needs a reason"),
        (_payload(r=[["bad/dev", "co2", "co2", 1.0, "ppm", TS, "g"]]), "r[0].device"),
        (_payload(seq=-1), "field 'seq'"),
        (_payload(site="a+b"), "site"),
        (b'{"v":1,"site":"s","agent":"a","seq":1,"sent":1,"r":[["d","p","co2",NaN,"ppm",1,"g"]]}', "NaN"),
    ],
)
def test_bad_payloads_rejected_with_precise_message(payload: bytes, fragment: str) -> None:
    with pytest.raises(TelemetryError) as info:
        decode_batch(payload, "campus/sz-01/gw-A/telemetry")
    assert fragment in str(info.value)
    assert "campus/sz-01/gw-A/telemetry" in str(info.value)


def test_oversized_payload_rejected() -> None:
    with pytest.raises(TelemetryError, match="exceeds"):
        decode_batch(b" " * (4 * 1024 * 1024 + 1))


def test_batch_origin_must_match_readings() -> None:
    with pytest.raises(ValueError, match=r"readings\[0\]"):
        make_batch("sz-02", "gw-A", 1, TS, [reading()])


def test_nan_value_rejected_in_model() -> None:
    with pytest.raises(ValueError, match="finite"):
        reading(value=float("nan"))


def test_every_quantity_has_a_canonical_unit() -> None:
    for quantity, unit in CANONICAL_UNITS.items():
        assert reading(point=quantity, quantity=quantity, unit=unit, value=1.0).unit == unit


def test_topics_round_trip_and_reject_wildcards() -> None:
    t = topic("sz-01", "gw-A", "telemetry")
    assert t == "campus/sz-01/gw-A/telemetry"
    parts = parse_topic(t)
    assert (parts.site, parts.agent, parts.kind) == ("sz-01", "gw-A", "telemetry")
    with pytest.raises(TelemetryError):
        topic("sz+01", "gw-A", "telemetry")
    with pytest.raises(TelemetryError):
        parse_topic("campus/sz-01/gw-A/other")
    assert subscription("telemetry", share_group="ingest") == "$share/ingest/campus/+/+/telemetry"


def test_status_round_trip() -> None:
    s = StatusMsg(site="sz-01", agent="gw-A", state="online", ts=TS, version="0.1.0")
    assert decode_status(encode_status(s)) == s
    with pytest.raises(TelemetryError, match="state"):
        decode_status(b'{"v":1,"site":"sz-01","agent":"gw-A","state":"zombie","ts":1}')


_QUALITY_CODE = {Quality.GOOD: "g", Quality.UNCERTAIN: "u", Quality.BAD: "b"}
_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)


@given(
    fixed=st.tuples(_text, _text, _text, _text),
    value=st.none() | st.integers(-(2**60), 2**60) | st.floats(allow_nan=False, allow_infinity=False),
    ts=st.integers(0, 2**63 - 1),
    quality=st.sampled_from(list(Quality)),
    reason=st.none() | _text,
)
def test_the_row_writer_writes_what_a_json_encoder_writes(
    fixed: tuple[str, str, str, str],
    value: float | None,
    ts: int,
    quality: Quality,
    reason: str | None,
) -> None:
    """`RowTemplate` is the wire row's only writer (the agent's hot path and `encode_row` both
    use it): its text is the compact UTF-8 JSON of the row as a list — escapes, CJK, exponents,
    -0.0, integers, null and a reason only when there is one — so any JSON reader gets the row."""
    device, point, quantity, unit = fixed
    row = RowTemplate.of(device, point, quantity, unit).row(value, ts, quality, reason)
    fields: list[object] = [device, point, quantity, value, unit, ts, _QUALITY_CODE[quality]]
    if reason:
        fields.append(reason)
    assert row == json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    assert row == encode_row_values(device, point, quantity, value, unit, ts, quality, reason)
    assert json.loads(row) == fields


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_the_row_writer_refuses_non_finite_values(bad: float) -> None:
    with pytest.raises(ValueError):
        RowTemplate.of("d", "p", "co2", "ppm").row(bad, TS, Quality.GOOD, None)
