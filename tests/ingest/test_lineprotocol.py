"""Line-protocol and InfluxQL escaping (pure): the text the servers receive."""

from __future__ import annotations

import pytest

from contract.telemetry import SeriesKey
from store.base import Agg, StoredPoint, points_to_rows
from store.influxql import ident, latest_query, literal, range_query, tag_equals
from store.lineprotocol import (
    LineProtocolError,
    encode_point,
    escape_key,
    escape_measurement,
    escape_string_field,
    format_float,
)


def test_line_protocol_escapes() -> None:
    assert escape_measurement("a b,c=d") == "a\\ b\\,c=d"
    assert escape_key("a b,c=d") == "a\\ b\\,c\\=d"
    assert escape_string_field('say "hi" \\ ok\nnext') == '"say \\"hi\\" \\\\ ok next"'
    for bad in ("", "back\\slash", "new\nline", "cr\r"):
        with pytest.raises(LineProtocolError):
            escape_key(bad)
    with pytest.raises(LineProtocolError):
        format_float(float("nan"))
    assert format_float(1) == "1.0" and format_float(1e20) == "1e20" and format_float(1e-5) == "0.00001"


def test_encode_point_schema() -> None:
    p = StoredPoint(
        SeriesKey("sz-01", "A-201-air", "co2"),
        1_763_884_800_000_000_000,
        812.0,
        "co2",
        "ppm",
        agent="gw-A",
        tags={"building": "A", "storey": "2F 二层", "room_type": "", "site": "spoofed"},
    )
    # quality and agent are tags; a good point without a reason carries only its value
    assert encode_point(p) == (
        "co2,agent=gw-A,building=A,device=A-201-air,point=co2,quality=good,site=sz-01,"
        "storey=2F\\ 二层,unit=ppm value=812.0 1763884800000000000"
    )
    bad = StoredPoint(p.key, p.ts, None, "co2", "ppm", quality="bad", reason="timeout")
    assert encode_point(bad).split(" ")[1] == 'reason="timeout"'
    assert ",quality=bad," in encode_point(bad) and "agent=" not in encode_point(bad)
    # not good → reason written (empty when none given), so count("reason") counts bad points
    odd = StoredPoint(p.key, p.ts, 5.0, "co2", "ppm", quality="uncertain")
    assert encode_point(odd).split(" ")[1] == 'value=5.0,reason=""'


def test_influxql_quoting() -> None:
    assert ident('we"ird\\') == '"we\\"ird\\\\"'
    assert literal("it's \\ \n") == "'it\\'s \\\\ \\n'"
    assert tag_equals({"b": "x' OR '1'='1", "a": "y"}) == "\"a\" = 'y' AND \"b\" = 'x\\' OR \\'1\\'=\\'1'"
    assert tag_equals({}) == ""
    assert latest_query() == "SELECT * FROM /.*/ GROUP BY * ORDER BY time DESC LIMIT 1"
    key = SeriesKey("s", "d", "p")
    q = range_query(key, 10, 20, 5, Agg.LAST)
    assert q == (
        'SELECT last("value"), count("value") FROM /.*/ WHERE "device" = \'d\' AND "point" = \'p\''
        " AND \"site\" = 's' AND time >= 10 AND time < 20 AND \"quality\"::tag != 'bad'"
        " GROUP BY time(5ns) fill(none) ORDER BY time"
    )


def test_cached_encoder_matches_encode_point() -> None:
    from store.lineprotocol import LineEncoder

    enc = LineEncoder(max_cached=2)
    key = SeriesKey("sz-01", "A-201-air", "co2")
    cases = [
        StoredPoint(key, 1, 812.5, "co2", "ppm", agent="gw-A", tags={"storey": "2F 二层", "room": 'x"y'}),
        StoredPoint(
            key, 2, None, "co2", "ppm", quality="bad", reason='say "no"\n', tags={"storey": "2F 二层"}
        ),
        StoredPoint(key, 3, 1e-7, "co2", "ppm", tags={"building": "B"}),
        StoredPoint(
            SeriesKey("a", "b", "c"), 4, -3.0, "temperature", "°C", quality="uncertain", reason="range"
        ),
    ]
    for p in cases * 2:  # one at a time: a write holds one tag set per series
        groups, tags = points_to_rows([p])
        assert enc.encode_rows(*groups[0], tags, _no) == [encode_point(p)]
    odd = StoredPoint(key, 1, 1.0, "co2", "ppm", tags={"room": "a\\\\b"})
    with pytest.raises(LineProtocolError):
        encode_point(odd)
    rejects: list[tuple[str, str]] = []
    groups, tags = points_to_rows([odd])
    assert enc.encode_rows(*groups[0], tags, lambda *a: rejects.append(a)) == []
    assert len(rejects) == 1 and "cannot encode" in rejects[0][1]


def _no(text: str, reason: str) -> None:
    raise AssertionError(f"unexpected reject {reason}: {text}")
