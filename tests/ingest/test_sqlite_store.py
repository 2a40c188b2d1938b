"""SQLite store: idempotent upsert, epoch-aligned windows computed by hand, threads."""

from __future__ import annotations

import math
import random
import sqlite3
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.telemetry import GoodRows, Quality, Row, SeriesKey
from store.base import Agg, Store, StoredPoint, StoreError, Window
from store.sqlite import SQLiteStore, rows_per_statement, statement_sizes
from tests.support.protocols import assert_implements

S = 1_000_000_000
T0 = 1_763_884_800 * S  # 2025-11-23T08:00:00Z, a multiple of 60 s
KEY = SeriesKey("sz-01", "A-201-air", "co2")
TAGS = {"campus": "sz-01", "building": "A", "storey": "2F", "room": "0abc", "room_number": "A-201"}


def pt(ts: int, value: float | None, quality: str = "good", key: SeriesKey = KEY) -> StoredPoint:
    return StoredPoint(
        key=key,
        ts=ts,
        value=value,
        quantity="co2",
        unit="ppm",
        quality=quality,
        reason=None if quality == "good" else "timeout after 1.0s",
        agent="gw-A",
        tags=TAGS,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "ts.db")
    yield s
    s.close()


def test_is_a_store_with_wal(store: SQLiteStore) -> None:
    assert_implements(store, Store)
    conn = store._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_same_series_and_ts_is_stored_once_last_write_wins(store: SQLiteStore) -> None:
    store.write([pt(T0, 400.0), pt(T0 + S, 410.0)])
    store.write([pt(T0, 401.0), pt(T0 + S, 410.0)])
    assert store.count() == 2
    assert [w.value for w in store.range(KEY, T0, T0 + 2 * S)] == [401.0, 410.0]


def test_latest_is_newest_even_when_an_older_point_arrives_later(store: SQLiteStore) -> None:
    other = SeriesKey("sz-01", "A-202-th", "temperature")
    store.write([pt(T0 + 5 * S, 500.0), pt(T0, 1.0, key=other)])
    store.write([pt(T0 + 2 * S, 450.0)])  # late replay of an older point
    latest = store.latest()
    assert latest[KEY].value == 500.0 and latest[KEY].ts == T0 + 5 * S
    assert latest[KEY].tags == TAGS and latest[KEY].agent == "gw-A"
    assert set(store.latest([other])) == {other}
    assert store.latest([SeriesKey("x", "y", "z")]) == {}


def test_windows_aligned_from_epoch_computed_by_hand(store: SQLiteStore) -> None:
    # 60 s windows. Window [T0, T0+60): 400 @0s, 420 @30s, bad @40s (excluded), null uncertain excluded
    # Window [T0+60, T0+120): 500 @61s, 460 @119s (uncertain counts).
    # Window [T0+120, …): only a bad point → omitted.
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
    # start in the middle of a window: alignment stays on the epoch grid, points before start excluded
    assert store.range(KEY, T0, T0 + 180 * S, every, Agg.MEAN) == [
        Window(T0, 410.0, 2),
        Window(T0 + 60 * S, 480.0, 2),
    ]
    assert store.range(KEY, T0 + 10 * S, T0 + 180 * S, every, Agg.MEAN) == [
        Window(T0, 420.0, 1),
        Window(T0 + 60 * S, 480.0, 2),
    ]
    assert [w.value for w in store.range(KEY, T0, T0 + 180 * S, every, Agg.MIN)] == [400.0, 460.0]
    assert [w.value for w in store.range(KEY, T0, T0 + 180 * S, every, Agg.MAX)] == [420.0, 500.0]
    assert [w.value for w in store.range(KEY, T0, T0 + 180 * S, every, Agg.LAST)] == [420.0, 460.0]
    assert [w.value for w in store.range(KEY, T0, T0 + 180 * S, every, Agg.COUNT)] == [2.0, 2.0]
    # end is exclusive
    assert store.range(KEY, T0, T0 + 61 * S, every, Agg.COUNT) == [Window(T0, 2.0, 2)]
    # 7 s windows are not aligned to T0 (T0 % 7s != 0): aligned to the epoch instead
    seven = 7 * S
    first = T0 - T0 % seven
    got = store.range(KEY, T0, T0 + 31 * S, seven, Agg.MEAN)
    assert got[0] == Window(first, 400.0, 1)
    assert got[1].start == (T0 + 30 * S) - (T0 + 30 * S) % seven


def test_raw_range_marks_points_outside_aggregates(store: SQLiteStore) -> None:
    store.write([pt(T0, 400.0), pt(T0 + S, None, "bad"), pt(T0 + 2 * S, 7.0, "bad")])
    assert store.range(KEY, T0, T0 + 3 * S) == [
        Window(T0, 400.0, 1),
        Window(T0 + S, None, 0),
        Window(T0 + 2 * S, None, 0),
    ]
    assert store.range(SeriesKey("no", "such", "series"), T0, T0 + S) == []
    with pytest.raises(ValueError):
        store.range(KEY, T0, T0 + S, every=0)


def test_series_filtered_by_tags_and_retagged_on_rebind(store: SQLiteStore) -> None:
    other = SeriesKey("sz-01", "B-101-th", "temperature")
    store.write([pt(T0, 1.0), StoredPoint(other, T0, 20.0, "temperature", "°C", tags={"building": "B"})])
    assert [s.key for s in store.series()] == [KEY, other]
    assert [s.key for s in store.series({"building": "A", "room_number": "A-201"})] == [KEY]
    assert store.series({"building": "C"}) == []
    # re-binding the device to another room changes the series tags
    store.write([StoredPoint(KEY, T0 + S, 2.0, "co2", "ppm", tags={"building": "A", "room_number": "A-202"})])
    assert [s.key for s in store.series({"room_number": "A-202"})] == [KEY]


def test_writer_and_concurrent_readers(store: SQLiteStore) -> None:
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        try:
            for _ in range(200):
                store.latest()
                store.range(KEY, T0, T0 + 10_000 * S, 60 * S, Agg.MEAN)
                if done.is_set():
                    break
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for t in readers:
        t.start()
    for i in range(50):
        store.write([pt(T0 + (i * 20 + j) * S, float(j)) for j in range(20)])
    done.set()
    for t in readers:
        t.join(timeout=30)
    assert not errors
    assert store.count() == 1000


def test_second_process_view_and_closed_store(tmp_path: Path) -> None:
    a = SQLiteStore(tmp_path / "x.db")
    b = SQLiteStore(tmp_path / "x.db")
    a.write([pt(T0, 1.0)])
    assert b.latest()[KEY].value == 1.0
    a.close()
    b.close()
    with pytest.raises(StoreError):
        a.write([pt(T0, 1.0)])


def test_series_cache_follows_rebinding_and_late_points(tmp_path: Path) -> None:
    """Series rows are written only when new or changed: a re-bound device's new room must
    still reach the file, and `latest` must be the newest point, not the last written."""
    path = tmp_path / "cache.db"
    s = SQLiteStore(path)
    room_a, room_b = {"room_number": "A-201"}, {"room_number": "B-101"}
    s.write([StoredPoint(KEY, T0 + 5 * S, 1.0, "co2", "ppm", tags=room_a)])
    s.write([StoredPoint(KEY, T0 + S, 2.0, "co2", "ppm", tags=room_a)])  # late arrival
    assert s.latest([KEY])[KEY].value == 1.0
    s.write([StoredPoint(KEY, T0 + 6 * S, 3.0, "co2", "ppm", tags=room_b)])
    s.close()
    other = SQLiteStore(path)
    try:
        assert [i.tags for i in other.series()] == [room_b]
        assert other.latest([KEY])[KEY].value == 3.0 and other.count() == 3
    finally:
        other.close()


def test_values_round_trip_exactly_through_the_batch(store: SQLiteStore) -> None:
    """Rows reach SQLite as multi-row upserts in key order (the rows here arrive out of order):
    every double (random bit patterns within ±2**53, subnormals, sensor-like values) and text
    (quality, a unicode reason) reads back unchanged."""
    rng = random.Random(15)
    values: list[float] = [5e-324, 1e-310, 2.0**53, -(2.0**53), 0.1, 400.0 + 1 / 3]
    while len(values) < 20_000:
        v = struct.unpack("d", rng.randbytes(8))[0]
        if math.isfinite(v) and abs(v) <= 2.0**53:
            values.append(v)
    values += [rng.uniform(-50, 5000) for _ in range(5000)]
    rows: list[Row] = [
        ("A-201-air", "co2", "co2", v, "ppm", T0 + i, Quality.GOOD, None) for i, v in enumerate(values)
    ]
    rows.append(("A-201-air", "co2", "co2", None, "ppm", T0 - 1, Quality.BAD, '超时 timeout "x" \\ y'))
    store.write_rows([("sz-01", "gw-A", rows)], {("sz-01", "A-201-air", "co2"): TAGS})
    got = store.range(KEY, T0, T0 + len(values))
    assert [w.value for w in got] == values
    first = store.latest([KEY])[KEY]
    assert first.ts == T0 + len(values) - 1 and first.agent == "gw-A" and first.quality == "good"
    with store._reading() as conn:
        assert conn.execute("SELECT quality, reason FROM points WHERE ts = ?", (T0 - 1,)).fetchone() == (
            "bad",
            '超时 timeout "x" \\ y',
        )


def test_all_good_write_keeps_values_and_agents_exactly(store: SQLiteStore) -> None:
    """A write of `GoodRows` only takes the compact statement (series id, ts, value, agent bound;
    quality and reason constant): every double reads back unchanged, each row keeps its group's
    agent (an empty agent is stored as NULL), and writing it again changes nothing (idempotent
    upsert)."""
    rng = random.Random(16)
    keys = [SeriesKey("sz-01", f"A-{i}-air", "co2") for i in range(3)]
    groups = []
    expected: dict[tuple[SeriesKey, int], tuple[float, str | None]] = {}
    for g, agent in enumerate(("gw-A", "gw-B", "", "gw-A")):
        rows = GoodRows()
        for i in range(2000):
            v = struct.unpack("d", rng.randbytes(8))[0]
            if not (math.isfinite(v) and abs(v) <= 2.0**53):
                v = rng.uniform(-50, 5000)
            key, ts = keys[i % 3], T0 + g * 10_000 + i
            rows.append((key.device, key.point, "co2", v, "ppm", ts, "g"))
            expected[(key, ts)] = (v, agent or None)
        groups.append(("sz-01", agent, rows))
    tags = {(k.site, k.device, k.point): TAGS for k in keys}
    for _ in range(2):
        store.write_rows(groups, tags)
        assert store.count() == len(expected)
    with store._reading() as conn:
        got = conn.execute(
            "SELECT s.device, p.ts, p.value, p.quality, p.reason, p.agent FROM points p"
            " JOIN series s ON s.id = p.series_id"
        ).fetchall()
    by_device = {k.device: k for k in keys}
    assert {(by_device[d], ts): (v, agent) for d, ts, v, _q, _r, agent in got} == expected
    assert {(q, r) for _d, _t, _v, q, r, _a in got} == {("good", None)}


@given(n=st.integers(0, 20_000), largest=st.sampled_from([1, 2, 128, 4096]))
def test_statement_sizes_cover_the_rows_with_few_shapes(n: int, largest: int) -> None:
    """A write's rows split into statements of `largest` rows and falling powers of two: every
    row once, and at most log2(largest) + 1 statement shapes (sqlite3 caches compiled ones)."""
    sizes = list(statement_sizes(n, largest))
    assert sum(sizes) == n
    assert all(s <= largest and s & (s - 1) == 0 for s in sizes)
    assert sizes == sorted(sizes, reverse=True)
    assert len(set(sizes)) <= largest.bit_length()


@pytest.mark.parametrize(("limit", "rows"), [(999, 128), (32_766, 4096), (250_000, 4096)])
def test_statement_rows_follow_the_variable_limit(store: SQLiteStore, limit: int, rows: int) -> None:
    """SQLite before 3.32 binds at most 999 variables: statements shrink to fit, and the write
    stays correct."""
    with store._writing() as conn:
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
        assert rows_per_statement(conn) == rows
    good = GoodRows((KEY.device, KEY.point, "co2", float(i), "ppm", T0 + i, "g") for i in range(1000))
    store.write_rows([(KEY.site, "gw-A", good)], {(KEY.site, KEY.device, KEY.point): TAGS})
    assert [w.value for w in store.range(KEY, T0, T0 + 1000)] == [float(i) for i in range(1000)]


def test_one_write_with_a_repeated_point_keeps_the_later_row(store: SQLiteStore) -> None:
    """Rows are sorted by (series, ts) before the upsert; a point repeated within one write (a
    redelivered message gathered with its original) keeps the row that came later, as separate
    writes would."""
    other = SeriesKey(KEY.site, "A-202-air", "co2")
    tags = {(k.site, k.device, k.point): TAGS for k in (KEY, other)}

    def rows(values: list[tuple[SeriesKey, int, float]]) -> list[Row]:
        return [(k.device, k.point, "co2", v, "ppm", T0 + t, Quality.GOOD, None) for k, t, v in values]

    first = rows([(other, 2, 1.0), (KEY, 5, 1.0), (KEY, 1, 1.0), (other, 1, 1.0)])
    later = rows([(KEY, 5, 2.0), (other, 1, 2.0), (KEY, 3, 2.0)])
    store.write_rows([(KEY.site, "gw-A", first), (KEY.site, "gw-B", later)], tags)
    assert [(w.start - T0, w.value) for w in store.range(KEY, T0, T0 + 10)] == [(1, 1.0), (3, 2.0), (5, 2.0)]
    assert [(w.start - T0, w.value) for w in store.range(other, T0, T0 + 10)] == [(1, 2.0), (2, 1.0)]
    assert store.latest([KEY])[KEY].agent == "gw-B"


def test_writers_starting_together_upsert_each_series_once(tmp_path: Path) -> None:
    """Four writer threads on a fresh store with the same new series: the series are created once
    (decided under the write lock), ids stay consistent, and every point is stored."""
    store = SQLiteStore(tmp_path / "fresh.db")
    keys = [SeriesKey("sz-01", f"A-{i}-air", "co2") for i in range(300)]
    tags = {(k.site, k.device, k.point): TAGS for k in keys}
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            good = GoodRows((k.device, k.point, "co2", float(n), "ppm", T0 + n, "g") for k in keys)
            barrier.wait(10)
            store.write_rows([("sz-01", f"gw-{n}", good)], tags)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        assert not errors
        assert store.count() == 4 * len(keys)
        with store._reading() as conn:
            assert conn.execute("SELECT count(*), max(id) FROM series").fetchone() == (len(keys), len(keys))
        with store._writing() as conn:  # rows changed: each series once, then the points
            assert conn.total_changes == len(keys) + 4 * len(keys)
        assert {w.value for k in keys for w in store.range(k, T0, T0 + 4)} == {0.0, 1.0, 2.0, 3.0}
    finally:
        store.close()
