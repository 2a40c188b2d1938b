"""`decode_rows` (the fast path ingest uses) must behave exactly like `decode_batch` (pydantic):
same acceptance, same error message, same values with the same types, on valid rows and on
rows with one field replaced by something odd (wrong type, coercible, out of range, …)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from contract.telemetry import (
    CANONICAL_UNITS,
    QUANTITIES,
    Quality,
    Reading,
    RowBatch,
    TelemetryError,
    _fast_rows,
    _msgspec_rows,
    _parse_envelope,
    as_rows,
    decode_batch,
    decode_rows,
    encode_batch,
    make_batch,
)
from contract.timestamps import DEFAULT_MAX_SKEW_S
from tests.support.budget import examples

TS_MIN, TS_MAX = 946_684_800_000_000_000, 4_102_444_800_000_000_000
IDS = ["A-201-co2", "co2", "gw-A", "a", "x" * 128, "a_b.c:d-e", "9"]
BAD_IDS = ["", "x" * 129, "a\n", "-a", "a b", "é", "a/b", "a+", "#", 7, None, True, ["a"]]
ODD: dict[int, list[Any]] = {  # per row position: values pydantic rejects or coerces
    0: BAD_IDS,
    1: BAD_IDS,
    2: ["bogus", "CO2", "", 1, None],
    3: [True, False, "1.5", "x", 10**400, 2**53 + 1, -(2**60), 2**53, 0, -0.0, 1e308, [1]],
    4: ["C", "", None, 1, "°c"],
    5: [TS_MIN, TS_MAX, TS_MIN + 1, TS_MAX - 1, True, 1.5e18, 1.7e18 + 0.5, "1763884800000000000", None, -1],
    6: ["x", "G", "good", 1, None, ""],
    7: [None, "", "r" * 500, "r" * 501, 5, "line\nbreak", "注释"],
}
ENVELOPE_ODD: dict[str, list[Any]] = {
    "v": [True, 1.0, 2, "1"],
    "site": BAD_IDS,
    "agent": BAD_IDS,
    "seq": [-1, True, 1.0, "3", None, 2**70],
    "sent": [0, -5, True, 1.0, "9", None],
}


@st.composite
def valid_rows(draw: st.DrawFn) -> list[Any]:
    q = draw(st.sampled_from(sorted(QUANTITIES)))
    code = draw(st.sampled_from(["g", "g", "u", "b"]))
    value = draw(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.integers(-(2**53), 2**53),
            st.none() if code != "g" else st.floats(-1e6, 1e6),
        )
    )
    row = [
        draw(st.sampled_from(IDS)),
        draw(st.sampled_from(IDS)),
        q,
        value,
        CANONICAL_UNITS[q],
        draw(st.integers(TS_MIN + 1, TS_MAX - 1)),
        code,
    ]
    if code != "g" or draw(st.booleans()):
        row.append(draw(st.text(min_size=1 if code != "g" else 0, max_size=20)))
    return row


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    rows = draw(st.lists(valid_rows(), min_size=0, max_size=6))
    for row in rows:
        if draw(st.booleans()):  # every other row gets an odd field
            i = draw(st.integers(0, 8))
            if i == 8:
                row.append(draw(st.sampled_from([None, "extra"])) if len(row) == 8 else "r")
                if len(row) == 9 or draw(st.booleans()):
                    del row[draw(st.integers(0, len(row) - 1))]
            else:
                if i == 7 and len(row) == 7:
                    row.append(None)
                row[i] = draw(st.sampled_from(ODD[i]))
    doc: dict[str, Any] = {
        "v": 1,
        "site": draw(st.sampled_from(IDS)),
        "agent": draw(st.sampled_from(IDS)),
        "seq": draw(st.integers(0, 2**40)),
        "sent": draw(st.integers(1, 2**62)),
        "r": rows,
    }
    if draw(st.integers(0, 4)) == 0:
        k = draw(st.sampled_from(sorted(ENVELOPE_ODD)))
        doc[k] = draw(st.sampled_from(ENVELOPE_ODD[k]))
    if rows and draw(st.integers(0, 9)) == 0:
        doc["r"][draw(st.integers(0, len(rows) - 1))] = draw(st.sampled_from([{"a": 1}, "row", None, []]))
    return json.dumps(doc, ensure_ascii=False).encode()


def outcome(decode: Any, payload: bytes) -> tuple[str, Any]:
    try:
        return "ok", decode(payload, "campus/s/a/telemetry")
    except TelemetryError as exc:
        return "error", str(exc)


def rows_of_batch(payload: bytes) -> tuple[str, Any]:
    kind, b = outcome(decode_batch, payload)
    if kind == "error":
        return kind, b
    rows = [(r.device, r.point, r.quantity, r.value, r.unit, r.ts, r.quality, r.reason) for r in b.readings]
    return kind, (b.site, b.agent, b.seq, b.sent, rows)


def rows_of_fast(payload: bytes) -> tuple[str, Any]:
    kind, b = outcome(decode_rows, payload)
    if kind == "error":
        return kind, b
    return kind, (b.site, b.agent, b.seq, b.sent, list(as_rows(b.rows)))


def fast_only(payload: bytes) -> RowBatch | None:
    """The fast row check alone, without the pydantic fallback (None: envelope bad or declined)."""
    try:
        _, doc = _parse_envelope(payload, None)
    except TelemetryError:
        return None
    return _fast_rows(doc)


def msgspec_only(payload: bytes) -> RowBatch | None:
    """The C-speed first stage alone (msgspec types + remembered series), without any fallback."""
    return _msgspec_rows(payload, DEFAULT_MAX_SKEW_S)


def typed(result: tuple[str, Any]) -> Any:
    """The result with every value's type next to it (1 == 1.0 == True must not pass)."""
    kind, v = result
    if kind == "error":
        return result
    site, agent, seq, sent, rows = v
    return (site, agent, (seq, type(seq)), (sent, type(sent)), [[(x, type(x)) for x in r] for r in rows])


@settings(max_examples=examples(400), deadline=None)
@given(payloads())
def test_fast_decode_matches_pydantic(payload: bytes) -> None:
    assert typed(rows_of_fast(payload)) == typed(rows_of_batch(payload))


@settings(max_examples=examples(400), deadline=None)
@given(payloads())
def test_fast_path_accepts_only_what_pydantic_accepts_unchanged(payload: bytes) -> None:
    """The fast check alone (no fallback): whatever it accepts, pydantic accepts with equal values."""
    fast = fast_only(payload)
    if fast is not None:
        kind, v = rows_of_batch(payload)
        assert kind == "ok", v
        assert typed(("ok", (fast.site, fast.agent, fast.seq, fast.sent, list(as_rows(fast.rows))))) == typed(
            (kind, v)
        )


def agent_readings(rows: list[list[Any]]) -> list[Reading]:
    """Wire rows as the `Reading`s an agent would have encoded them from."""
    quality = {"g": Quality.GOOD, "u": Quality.UNCERTAIN, "b": Quality.BAD}
    return [
        Reading(
            site="s",
            agent="gw-A",
            device=r[0],
            point=r[1],
            quantity=r[2],
            value=r[3],
            unit=r[4],
            ts=r[5],
            quality=quality[r[6]],
            reason=r[7] if len(r) == 8 else None,
        )
        for r in rows
    ]


@settings(max_examples=examples(100), deadline=None)
@given(st.lists(valid_rows(), min_size=1, max_size=20))
def test_fast_path_takes_valid_agent_batches(rows: list[list[Any]]) -> None:
    """What an agent encodes never falls back to the slow path (else the speed-up is void)."""
    readings = agent_readings(rows)
    payload = encode_batch(make_batch("s", "gw-A", 3, 1, readings))
    fast = fast_only(payload)
    assert fast is not None
    assert typed(("ok", (fast.site, fast.agent, fast.seq, fast.sent, list(as_rows(fast.rows))))) == typed(
        rows_of_batch(payload)
    )


def test_every_odd_field_value_alone() -> None:
    """Each odd value of the table in each row position and envelope field, one at a time, for
    each quality (deterministic: the random tests above may not meet every boundary)."""
    base = {"v": 1, "site": "s", "agent": "a", "seq": 0, "sent": 1}
    rows: list[list[Any]] = [
        ["d", "p", "co2", 1.0, "ppm", 1_763_884_800_000_000_000, "g"],
        ["d", "p", "co2", 1.0, "ppm", 1_763_884_800_000_000_000, "u", "drift"],
        ["d", "p", "co2", None, "ppm", 1_763_884_800_000_000_000, "b", "timeout"],
    ]
    docs: list[dict[str, Any]] = []
    for row in rows:
        docs.append({**base, "r": [row]})
        for i, odd in ODD.items():
            for value in odd:
                r = list(row) + ([None] if i == 7 and len(row) == 7 else [])
                r[i] = value
                docs.append({**base, "r": [r]})
    for k, odd in ENVELOPE_ODD.items():
        docs += [{**base, k: value, "r": [rows[0]]} for value in odd]
    accepted = 0
    for doc in docs:
        payload = json.dumps(doc, ensure_ascii=False).encode()
        expected = typed(rows_of_batch(payload))
        assert typed(rows_of_fast(payload)) == expected, doc
        for stage in (fast_only, msgspec_only):
            fast = stage(payload)
            if fast is not None:
                accepted += 1
                assert (
                    typed(("ok", (fast.site, fast.agent, fast.seq, fast.sent, list(as_rows(fast.rows)))))
                    == expected
                ), doc
    assert accepted > len(rows)  # the fast path is really exercised, not always bypassed


def test_known_divergences_fall_back_to_the_same_answer() -> None:
    """Cases where a naive fast check would differ from pydantic: '$' before a newline,
    bool as number, coercible strings, an int too big for a float."""
    base = {"v": 1, "site": "s", "agent": "a", "seq": 0, "sent": 1}
    row = ["d", "p", "co2", 1.0, "ppm", 1_763_884_800_000_000_000, "g"]
    cases = [
        {**base, "site": "s\n", "r": [row]},
        {**base, "v": True, "r": [row]},
        {**base, "r": [[*row[:3], True, *row[4:]]]},
        {**base, "r": [[*row[:3], "1.5", *row[4:]]]},
        {**base, "r": [[*row[:3], 10**400, *row[4:]]]},
        {**base, "r": [[*row[:5], True, "g"]]},
        {**base, "r": [[*row[:5], 1.7e18, "g"]]},
        {**base, "r": [[*row[:6], "u", None]]},
        {**base, "r": [[["d"], *row[1:]]]},
        {**base, "agent": {"a": 1}, "r": [row]},
    ]
    kinds = []
    for doc in cases:
        payload = json.dumps(doc).encode()
        assert fast_only(payload) is None
        assert msgspec_only(payload) is None
        assert typed(rows_of_fast(payload)) == typed(rows_of_batch(payload))
        kinds.append(rows_of_fast(payload)[0])
    assert "ok" in kinds and "error" in kinds  # both coercions and rejections are covered


@settings(max_examples=examples(400), deadline=None)
@given(payloads())
def test_msgspec_stage_accepts_only_what_pydantic_accepts_unchanged(payload: bytes) -> None:
    """The msgspec stage alone: whatever it accepts, pydantic accepts with equal values and types."""
    fast = msgspec_only(payload)
    if fast is not None:
        kind, v = rows_of_batch(payload)
        assert kind == "ok", v
        assert typed(("ok", (fast.site, fast.agent, fast.seq, fast.sent, list(as_rows(fast.rows))))) == typed(
            (kind, v)
        )


@settings(max_examples=examples(100), deadline=None)
@given(st.lists(valid_rows(), min_size=1, max_size=20))
def test_msgspec_stage_takes_good_agent_batches(rows: list[list[Any]]) -> None:
    """An agent batch whose readings are all good (almost every batch) is decoded by msgspec;
    a reason, a null value or a quality other than good leaves it to the checked path."""
    readings = agent_readings(rows)
    payload = encode_batch(make_batch("s", "gw-A", 3, 1, readings))
    fast = msgspec_only(payload)
    plain = all(r.quality is Quality.GOOD and not r.reason and abs(r.value or 0) <= 2**53 for r in readings)
    assert (fast is not None) == plain
    if fast is not None:
        assert typed(("ok", (fast.site, fast.agent, fast.seq, fast.sent, list(as_rows(fast.rows))))) == typed(
            rows_of_batch(payload)
        )


def test_msgspec_stage_leaves_what_json_loads_refuses_to_the_slow_path() -> None:
    """Bytes json.loads refuses (invalid UTF-8 in an unknown field msgspec would skip, a BOM,
    a lone surrogate) and duplicate keys (last wins in both) get the same answer."""
    row = ["d", "p", "co2", 1.0, "ppm", 1_763_884_800_000_000_000, "g"]
    head = b'{"v":1,"site":"s","agent":"a","seq":0,"sent":1,'
    cases = [
        head + b'"x":"\xff","r":' + json.dumps([row]).encode() + b"}",
        head.replace(b'"v":1', b'"v":1,"junk":"\xff"') + b'"r":[]}',
        b"\xef\xbb\xbf" + head + b'"r":[]}',
        head.replace(b'"site":"s"', b'"site":"\\ud800"') + b'"r":[]}',
        head.replace(b'"seq":0', b'"seq":0,"seq":5') + b'"r":' + json.dumps([row]).encode() + b"}",
    ]
    for payload in cases:
        got = msgspec_only(payload)
        expected = typed(rows_of_batch(payload))
        if got is not None:
            assert (
                typed(("ok", (got.site, got.agent, got.seq, got.sent, list(as_rows(got.rows))))) == expected
            ), payload
        assert typed(rows_of_fast(payload)) == expected, payload
