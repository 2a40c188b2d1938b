"""InfluxDB v1 store against a real InfluxDB 1.x: schema, escaping, injection, windows,
and the write-error classification (through a fault-injecting proxy in front of the real server)."""

from __future__ import annotations

import http.server
import itertools
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from campus_twin.servers import InfluxDB
from contract.telemetry import SeriesKey
from store.base import Agg, Store, StoredPoint, StoreError, Window
from store.influx_v1 import InfluxV1Store, retry_after_s
from store.lineprotocol import LineProtocolError, encode_point
from tests.support.protocols import assert_implements

S = 1_000_000_000
T0 = 1_763_884_800 * S
KEY = SeriesKey("sz-01", "A-201-air", "co2")
ROOM = {
    "campus": "sz-01",
    "building": "A",
    "storey": "2F 二层",
    "room": "2O2Fr$t5X3RB9zPvFf3Zvd",
    "room_number": "A-201",
    "room_type": "smart_classroom",
}


def pt(ts: int, value: float | None, quality: str = "good", key: SeriesKey = KEY, **kw: Any) -> StoredPoint:
    return StoredPoint(
        key=key,
        ts=ts,
        value=value,
        quantity=kw.pop("quantity", "co2"),
        unit=kw.pop("unit", "ppm"),
        quality=quality,
        reason=None if quality == "good" else "timeout after 1.0s",
        agent="gw-A",
        tags=kw.pop("tags", ROOM),
    )


@pytest.fixture
def store(influxdb: InfluxDB) -> Iterator[InfluxV1Store]:
    s = InfluxV1Store(influxdb.url, f"t_{uuid.uuid4().hex[:10]}", create_database=True)
    yield s
    s.query(f'DROP DATABASE "{s.database}"')
    s.close()


def test_round_trip_and_idempotent_overwrite(store: InfluxV1Store) -> None:
    assert_implements(store, Store)
    store.write([pt(T0, 400.0), pt(T0 + S, 410.0), pt(T0 + 2 * S, None, "bad")])
    store.write([pt(T0, 401.0), pt(T0 + S, 410.0)])  # redelivery: same measurement+tags+ts
    assert store.count() == 3
    assert store.range(KEY, T0, T0 + 3 * S) == [
        Window(T0, 401.0, 1),
        Window(T0 + S, 410.0, 1),
        Window(T0 + 2 * S, None, 0),
    ]
    latest = store.latest()[KEY]
    assert (latest.ts, latest.value, latest.quality, latest.reason) == (
        T0 + 2 * S,
        None,
        "bad",
        "timeout after 1.0s",
    )
    assert (
        latest.tags == ROOM and latest.agent == "gw-A" and latest.unit == "ppm" and latest.quantity == "co2"
    )


def test_plain_rows_values_round_trip_exactly(store: InfluxV1Store) -> None:
    """Plain batches are formatted by msgspec ("1e16", "0.00001"): InfluxDB reads back each float."""
    values = [
        0.0,
        -0.0,
        1e16,
        1e-7,
        1e-5,
        1.5e300,
        5e-324,
        1.2345678901234568e17,
        400.3333333333333,
        -2.5e-300,
    ]
    store.write([pt(T0 + i * S, v) for i, v in enumerate(values)])
    assert [w.value for w in store.range(KEY, T0, T0 + len(values) * S)] == values


def test_windows_match_the_sqlite_semantics(store: InfluxV1Store) -> None:
    store.write(
        [
            pt(T0 + 30 * S, 420.0),
            pt(T0, 400.0),
            pt(T0 + 40 * S, 9999.0, "bad"),
            pt(T0 + 50 * S, None, "uncertain"),
            pt(T0 + 61 * S, 500.0),
            pt(T0 + 119 * S, 460.0, "uncertain"),
            pt(T0 + 130 * S, None, "bad"),
        ]
    )
    every = 60 * S
    assert store.range(KEY, T0, T0 + 180 * S, every, Agg.MEAN) == [
        Window(T0, 410.0, 2),
        Window(T0 + 60 * S, 480.0, 2),
    ]
    assert [w.value for w in store.range(KEY, T0, T0 + 180 * S, every, Agg.MIN)] == [400.0, 460.0]
    assert [w.value for w in store.range(KEY, T0, T0 + 180 * S, every, Agg.MAX)] == [420.0, 500.0]
    assert [w.value for w in store.range(KEY, T0, T0 + 180 * S, every, Agg.LAST)] == [420.0, 460.0]
    assert [w.value for w in store.range(KEY, T0, T0 + 180 * S, every, Agg.COUNT)] == [2.0, 2.0]
    seven = 7 * S
    assert store.range(KEY, T0, T0 + 5 * S, seven, Agg.MEAN) == [Window(T0 - T0 % seven, 400.0, 1)]


NASTY = [
    "A' OR '1'='1",
    'say "hi"',
    "a,b=c d",
    "二层 东区",
    'x" OR ""="',
    "'; DROP DATABASE x; --",
    "tab\there",
]


@pytest.mark.parametrize("nasty", NASTY)
def test_tag_values_round_trip_and_cannot_inject(store: InfluxV1Store, nasty: str) -> None:
    tags = {**ROOM, "building": nasty, "room_type": nasty}
    other = SeriesKey("sz-01", "B-101-th", "temperature")
    store.write(
        [
            pt(T0, 1.0, tags=tags),
            pt(T0, 20.0, key=other, quantity="temperature", unit="°C", tags={"building": "B"}),
        ]
    )
    got = store.series({"building": nasty})
    assert [(s.key, s.tags["building"], s.tags["room_type"]) for s in got] == [(KEY, nasty, nasty)]
    # the same text as a *filter* that does not match: no widening of the result, no error
    assert store.series({"building": nasty + "'"}) == []
    assert store.series({nasty: "A"}) == []
    assert len(store.series()) == 2  # the database is intact


def test_string_fields_with_quotes_backslashes_and_newlines(store: InfluxV1Store) -> None:
    reason = 'modbus "exception" 2 \\ C:\\dev\\ttyUSB0\nsecond line'
    p = StoredPoint(KEY, T0, None, "co2", "ppm", quality="bad", reason=reason, agent="gw-A", tags=ROOM)
    store.write([p])
    assert store.latest([KEY])[KEY].reason == reason.replace("\n", " ")


def test_unencodable_tag_is_quarantined_not_dropped(influxdb: InfluxDB) -> None:
    rejected: list[tuple[str, str]] = []
    s = InfluxV1Store(
        influxdb.url,
        f"t_{uuid.uuid4().hex[:10]}",
        create_database=True,
        on_reject=lambda line, why: rejected.append((line, why)),
    )
    try:
        s.write([pt(T0, 1.0, tags={**ROOM, "storey": "ends with \\"}), pt(T0 + S, 2.0)])
        assert s.count() == 1
        assert len(rejected) == 1 and "tag storey" in rejected[0][1] and "ends with" in rejected[0][0]
        with pytest.raises(LineProtocolError):
            encode_point(pt(T0, 1.0, tags={"room": "line\nbreak"}))
        without_sink = InfluxV1Store(influxdb.url, s.database)
        with pytest.raises(StoreError) as exc:
            without_sink.write([pt(T0, 1.0, tags={"room": "a\\b"})])
        assert not exc.value.retryable
    finally:
        s.query(f'DROP DATABASE "{s.database}"')
        s.close()


def test_field_type_conflict_bisects_to_the_failing_line(influxdb: InfluxDB) -> None:
    rejected: list[tuple[str, str]] = []
    s = InfluxV1Store(
        influxdb.url,
        f"t_{uuid.uuid4().hex[:10]}",
        create_database=True,
        on_reject=lambda line, why: rejected.append((line, why)),
    )
    try:
        # someone else wrote `value` as a string into co2 for another series (same shard: 1.x types per shard)
        s.write_lines([f'co2,site=x,device=y,point=z,unit=ppm,quality=good value="oops" {T0 - S}'])
        points = [pt(T0 + i * S, float(i)) for i in range(10)]
        s.write(points)
        # all ten lines conflict on the field type: each one is quarantined with the server's reason
        assert len(rejected) == 10 and all("conflict" in why for _, why in rejected)
        assert {line for line, _ in rejected} == {encode_point(p) for p in points}
        # a temperature point in the same request is written
        rejected.clear()
        s.write(
            [
                pt(T0, 5.0),
                pt(T0, 21.5, key=SeriesKey("sz-01", "A-201-th", "t"), quantity="temperature", unit="°C"),
            ]
        )
        temp = SeriesKey("sz-01", "A-201-th", "t")
        assert len(rejected) == 1 and s.latest([temp])[temp].value == 21.5
    finally:
        s.query(f'DROP DATABASE "{s.database}"')
        s.close()


# ---------------------------------------------------------------- fault-injecting proxy


class FaultProxy:
    """Forwards to the real InfluxDB except for the scripted responses (status, headers)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.script: list[tuple[int, dict[str, str]]] = []
        self.reject_bodies_over: int | None = None
        self.write_sizes: list[int] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path.startswith("/write"):
                    proxy.write_sizes.append(body.count(b"\n"))
                    if proxy.script:
                        status, headers = proxy.script.pop(0)
                        return self._send(status, b'{"error":"injected"}', headers)
                    if proxy.reject_bodies_over is not None and len(body) > proxy.reject_bodies_over:
                        return self._send(413, b'{"error":"Request Entity Too Large"}', {})
                req = urllib.request.Request(proxy.upstream + self.path, data=body, method="POST")
                for k in ("Content-Type", "Content-Encoding", "Authorization"):
                    if self.headers.get(k):
                        req.add_header(k, self.headers[k])
                try:
                    with urllib.request.urlopen(req) as resp:
                        self._send(resp.status, resp.read(), {})
                except urllib.error.HTTPError as e:
                    self._send(e.code, e.read(), {})

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxied(influxdb: InfluxDB) -> Iterator[tuple[FaultProxy, Callable[..., InfluxV1Store]]]:
    proxy = FaultProxy(influxdb.url)
    made: list[InfluxV1Store] = []

    def make(**kw: Any) -> InfluxV1Store:
        s = InfluxV1Store(proxy.url, f"t_{uuid.uuid4().hex[:10]}", create_database=True, **kw)
        made.append(s)
        return s

    yield proxy, make
    for s in made:
        s.query(f'DROP DATABASE "{s.database}"')
        s.close()
    proxy.close()


def test_retries_429_and_5xx_honouring_retry_after(
    proxied: tuple[FaultProxy, Callable[..., InfluxV1Store]],
) -> None:
    proxy, make = proxied
    s = make()
    proxy.script = [(429, {"Retry-After": "0.3"}), (503, {}), (500, {})]
    s.write([pt(T0, 1.0)])
    assert s.retries_total == 3 and s.count() == 1
    assert len(proxy.write_sizes) == 4


def test_gives_up_retryable_after_deadline(proxied: tuple[FaultProxy, Callable[..., InfluxV1Store]]) -> None:
    proxy, make = proxied
    s = make(retry_for_s=0.5)
    proxy.script = [(503, {"Retry-After": "0.2"})] * 20
    with pytest.raises(StoreError) as exc:
        s.write([pt(T0, 1.0)])
    assert exc.value.retryable and "503" in str(exc.value)
    assert s.count() == 0


def test_413_splits_until_requests_fit(proxied: tuple[FaultProxy, Callable[..., InfluxV1Store]]) -> None:
    proxy, make = proxied
    s = make()
    one = len(encode_point(pt(T0, 1.0))) + 1
    proxy.reject_bodies_over = one * 30
    s.write([pt(T0 + i * S, float(i)) for i in range(100)])
    assert s.count() == 100
    assert proxy.write_sizes == [100, 50, 25, 25, 50, 25, 25]  # halves until each fits


def test_auth_and_missing_database_are_not_retryable(
    proxied: tuple[FaultProxy, Callable[..., InfluxV1Store]],
) -> None:
    proxy, make = proxied
    s = make()
    for status in (401, 403, 404):
        proxy.script = [(status, {})]
        with pytest.raises(StoreError) as exc:
            s.write([pt(T0, 1.0)])
        assert not exc.value.retryable and str(status) in str(exc.value)


def test_connection_refused_is_retryable() -> None:
    from campus_twin.servers import free_port

    s = InfluxV1Store(f"http://127.0.0.1:{free_port()}", "db", retry_for_s=0.3)
    with pytest.raises(StoreError) as exc:
        s.write([pt(T0, 1.0)])
    assert exc.value.retryable and "connection" in str(exc.value)


def test_retry_after_parsing() -> None:
    assert retry_after_s("2") == 2.0
    assert retry_after_s("100000") == 300.0
    assert retry_after_s("garbage") is None
    assert retry_after_s(None) is None
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0


def test_many_keys_in_latest(store: InfluxV1Store) -> None:
    keys = [SeriesKey("sz-01", f"A-{i:03d}-air", "co2") for i in range(450)]
    store.write([pt(T0 + i, float(i), key=k) for i, k in zip(itertools.count(), keys)])
    got = store.latest([*keys[::2], SeriesKey("sz-01", "none", "co2")])
    assert len(got) == 225 and got[keys[4]].value == 4.0
