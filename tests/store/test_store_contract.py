"""One contract for every store backend, run against real servers.

Writes and reads: SQLite, InfluxDB 1.6 (`influxdb`), and the `influxdb2` store's InfluxQL reads
on InfluxDB 1.6 (the v1-compatibility API 2.x with a DBRP mapping and 3.x serve). Writes of the
`influxdb2` store (`/api/v2/write`, org/bucket/token, gzip): a real VictoriaMetrics, read back
through its export API (it has no InfluxQL), so the same rows are checked for every version.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from campus_twin.servers import InfluxDB, VictoriaMetrics
from contract.telemetry import Quality, Row, SeriesKey
from store.base import Agg, RowGroup, SeriesInfo, Store, StoredPoint, Window
from store.influx_v1 import InfluxV1Store
from store.influx_v2 import InfluxV2Store
from store.sqlite import SQLiteStore

S = 1_000_000_000
T0 = 1_763_884_800 * S
SITE = "sz-01"
ROOM = {
    "campus": SITE,
    "building": "A",
    "storey": "2F 二层",
    "room_number": "A-201",
    "room_type": "smart_classroom",
}
CO2 = SeriesKey(SITE, "A-201-air", "co2")
TEMP = SeriesKey(SITE, "A-201-air", "temperature")
LAMP = SeriesKey(SITE, "B-101-lux", "illuminance")
TAGS = {
    (SITE, CO2.device, CO2.point): ROOM,
    (SITE, TEMP.device, TEMP.point): ROOM,
    (SITE, LAMP.device, LAMP.point): {"campus": SITE, "building": "B"},
}


def rows() -> list[RowGroup]:
    """Two agents; good, uncertain with a reason, bad without a value."""
    a: list[Row] = [
        ("A-201-air", "co2", "co2", 400.0 + i, "ppm", T0 + i * S, Quality.GOOD, None) for i in range(6)
    ]
    a[3] = ("A-201-air", "co2", "co2", None, "ppm", T0 + 3 * S, Quality.BAD, "timeout")
    a[4] = ("A-201-air", "co2", "co2", 999.0, "ppm", T0 + 4 * S, Quality.UNCERTAIN, "drift")
    a += [("A-201-air", "temperature", "temperature", 21.5, "°C", T0 + 2 * S, Quality.GOOD, None)]
    b: list[Row] = [("B-101-lux", "illuminance", "illuminance", 300.0, "lx", T0 + S, Quality.GOOD, None)]
    return [(SITE, "gw-A", a), (SITE, "gw-B", b)]


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("influxdb", marks=pytest.mark.integration),
        pytest.param("influxdb2-reads", marks=pytest.mark.integration),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s: Store = SQLiteStore(tmp_path / "ts.db")
        yield s
        s.close()
        return
    influx: InfluxDB = request.getfixturevalue("influxdb")
    db = f"c_{uuid.uuid4().hex[:10]}"
    writer = InfluxV1Store(influx.url, db, create_database=True)
    if request.param == "influxdb":
        yield writer
    else:  # the influxdb2 store reads through InfluxQL (DBRP database); writes go to 1.6's /write
        reader = InfluxV2Store(influx.url, "org", "bucket", token="t", database=db)
        reader.write_rows = writer.write_rows  # type: ignore[method-assign]
        yield reader
        reader.close()
    writer.query(f'DROP DATABASE "{db}"')
    writer.close()


def test_latest_after_rows_and_redelivery(store: Store) -> None:
    store.write_rows(rows(), TAGS)
    store.write_rows(rows(), TAGS)  # a redelivery stores each point once
    latest = store.latest()
    assert set(latest) == {CO2, TEMP, LAMP}
    assert latest[CO2] == StoredPoint(CO2, T0 + 5 * S, 405.0, "co2", "ppm", "good", None, "gw-A", ROOM)
    assert latest[LAMP].agent == "gw-B" and latest[LAMP].tags == {"campus": SITE, "building": "B"}
    assert store.latest([TEMP]) == {
        TEMP: StoredPoint(TEMP, T0 + 2 * S, 21.5, "temperature", "°C", agent="gw-A", tags=ROOM)
    }


def test_raw_range_marks_bad_and_valueless_points(store: Store) -> None:
    store.write_rows(rows(), TAGS)
    assert store.range(CO2, T0 + 2 * S, T0 + 6 * S) == [
        Window(T0 + 2 * S, 402.0, 1),
        Window(T0 + 3 * S, None, 0),  # bad, no value: present but not valid
        Window(T0 + 4 * S, 999.0, 1),  # uncertain takes part
        Window(T0 + 5 * S, 405.0, 1),
    ]


@pytest.mark.parametrize(
    ("agg", "expected"),
    [
        (Agg.MEAN, [Window(T0, 400.5, 2), Window(T0 + 2 * S, 402.0, 1), Window(T0 + 4 * S, 702.0, 2)]),
        (Agg.MAX, [Window(T0, 401.0, 2), Window(T0 + 2 * S, 402.0, 1), Window(T0 + 4 * S, 999.0, 2)]),
        (Agg.LAST, [Window(T0, 401.0, 2), Window(T0 + 2 * S, 402.0, 1), Window(T0 + 4 * S, 405.0, 2)]),
        (Agg.COUNT, [Window(T0, 2.0, 2), Window(T0 + 2 * S, 1.0, 1), Window(T0 + 4 * S, 2.0, 2)]),
    ],
)
def test_windows_skip_bad_points(store: Store, agg: Agg, expected: list[Window]) -> None:
    store.write_rows(rows(), TAGS)
    assert store.range(CO2, T0, T0 + 6 * S, every=2 * S, agg=agg) == expected


def test_points_take_the_row_path(store: Store) -> None:
    store.write([StoredPoint(CO2, T0, 1.0, "co2", "ppm", agent="gw-A", tags=ROOM)])
    assert store.latest([CO2])[CO2] == StoredPoint(CO2, T0, 1.0, "co2", "ppm", agent="gw-A", tags=ROOM)


def test_series_filter_by_room_tags(store: Store) -> None:
    store.write_rows(rows(), TAGS)
    infos = store.series({"building": "A"})
    assert sorted(infos, key=lambda i: i.key) == [
        SeriesInfo(CO2, "co2", "ppm", ROOM),
        SeriesInfo(TEMP, "temperature", "°C", ROOM),
    ]
    assert [i.key for i in store.series({"building": "B"})] == [LAMP]


# ---------------------------------------------------------------- influxdb2 writes (VictoriaMetrics)


def vm_export(vm: VictoriaMetrics, match: str) -> list[dict[str, Any]]:
    urllib.request.urlopen(f"{vm.url}/internal/force_flush", timeout=10).read()
    body = urllib.parse.urlencode({"match[]": match, "start": "0"}).encode()
    with urllib.request.urlopen(f"{vm.url}/api/v1/export", data=body, timeout=10) as r:
        return [json.loads(line) for line in r.read().splitlines() if line.strip()]


def wait_export(vm: VictoriaMetrics, match: str, n: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    """VictoriaMetrics makes rows searchable shortly after the write returns: wait for `n` values."""
    deadline = time.monotonic() + timeout
    while True:
        got = vm_export(vm, match)
        if sum(len(s["values"]) for s in got) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


@pytest.mark.parametrize("gzip_body", [True, False])
def test_influxdb2_writes_reach_a_real_v2_write_api(
    victoriametrics: VictoriaMetrics, gzip_body: bool
) -> None:
    site = f"s{uuid.uuid4().hex[:8]}"  # this test's own series
    groups = [(site, agent, rs) for _, agent, rs in rows()]
    tags = {(site, d, p): t for (_, d, p), t in TAGS.items()}
    store = InfluxV2Store(victoriametrics.url, "campus", "ts", token="secret", gzip_body=gzip_body)
    try:
        store.write_rows(groups, tags)
        store.write_rows(groups, tags)  # redelivery: same series + ts
    finally:
        store.close()
    got = wait_export(victoriametrics, f'{{site="{site}"}}', 8)
    stored = {
        (
            s["metric"]["__name__"],
            s["metric"]["device"],
            s["metric"]["quality"],
            s["metric"].get("agent"),
            ts,
            v,
        )
        for s in got
        for ts, v in zip(s["timestamps"], s["values"], strict=True)
    }
    ms = T0 // 1_000_000
    assert stored == {
        *(("co2_value", "A-201-air", "good", "gw-A", ms + i * 1000, 400.0 + i) for i in (0, 1, 2, 5)),
        ("co2_value", "A-201-air", "uncertain", "gw-A", ms + 4000, 999.0),
        # string fields become 0-valued series in VictoriaMetrics: the reason exists, only where given
        ("co2_reason", "A-201-air", "uncertain", "gw-A", ms + 4000, 0.0),
        ("co2_reason", "A-201-air", "bad", "gw-A", ms + 3000, 0.0),
        ("temperature_value", "A-201-air", "good", "gw-A", ms + 2000, 21.5),
        ("illuminance_value", "B-101-lux", "good", "gw-B", ms + 1000, 300.0),
    }
    room = next(s["metric"] for s in got if s["metric"]["__name__"] == "co2_value")
    assert {k: room[k] for k in ROOM} == ROOM and room["unit"] == "ppm"


# ---------------------------------------------------------------- local-time windows and bounds

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = 86_400 * S


def local_ns(*ymdhm: int) -> int:
    return int(datetime(*ymdhm, tzinfo=SHANGHAI).timestamp()) * S


def hourly_rows(first: int, hours: int) -> list[RowGroup]:
    rs: list[Row] = [
        ("A-201-air", "co2", "co2", float(h), "ppm", first + h * 3600 * S, Quality.GOOD, None)
        for h in range(hours)
    ]
    return [(SITE, "gw-A", rs)]


def test_daily_windows_start_at_local_midnight(store: Store) -> None:
    first = local_ns(2026, 11, 23, 0, 30)  # Monday 00:30 Beijing time = Sunday 16:30 UTC
    store.write_rows(hourly_rows(first, 48), TAGS)
    days = store.range(CO2, first, first + 48 * 3600 * S, every=DAY, agg=Agg.COUNT, tz=SHANGHAI)
    assert [(w.start, w.count) for w in days] == [
        (local_ns(2026, 11, 23, 0, 0), 24),
        (local_ns(2026, 11, 24, 0, 0), 24),
    ]
    utc_days = store.range(CO2, first, first + 48 * 3600 * S, every=DAY, agg=Agg.COUNT)
    assert [w.count for w in utc_days] == [8, 24, 16]  # UTC midnight is 08:00 in Beijing


def test_weekly_windows_start_on_local_monday(store: Store) -> None:
    first = local_ns(2026, 11, 22, 12, 0)  # Sunday noon
    store.write_rows(hourly_rows(first, 24), TAGS)  # Sunday 12:00 .. Monday 11:00
    weeks = store.range(CO2, first, first + DAY, every=7 * DAY, agg=Agg.COUNT, tz=SHANGHAI)
    assert [(w.start, w.count) for w in weeks] == [
        (local_ns(2026, 11, 16, 0, 0), 12),
        (local_ns(2026, 11, 23, 0, 0), 12),
    ]


@pytest.mark.parametrize(
    ("start", "end", "every"),
    [
        (T0, T0 + DAY, 999_999 * 7 * DAY),  # `every=999999w`: past 64-bit ns
        (T0, T0 + DAY, 0),
        (T0, T0 + DAY, -S),
        (T0, 2**63 - 1, DAY),
        (-(2**63), T0, DAY),
    ],
)
def test_out_of_bounds_inputs_raise_value_error(store: Store, start: int, end: int, every: int) -> None:
    with pytest.raises(ValueError, match=r"every|range"):
        store.range(CO2, start, end, every=every)
