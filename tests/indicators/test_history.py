"""The bulk history path (store-side windows) gives the verdicts of the raw-point path.

Three school days of jittered one-minute readings with gaps, bad-quality points and values
that cross the limits inside windows, over every rule of standards.yaml plus an instant
'between' rule; each verdict of the bulk path is compared with the raw path's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from contract.bindings import Binding, BindingTable, RoomTags
from contract.telemetry import CANONICAL_UNITS, SeriesKey
from store.base import Agg, Store, StoredPoint, Window
from store.sqlite import SQLiteStore
from twin.indicators.facts import SchoolFacts, gather_school
from twin.model import Building, Campus, Space, Storey
from twin.standards import StandardsFile, load_standards
from twin.standards.occupancy import load_timetable

CST = timezone(timedelta(hours=8))
NS = 10**9
START = int(datetime(2026, 11, 23, tzinfo=CST).timestamp()) * NS  # Monday
END = START + 3 * 86400 * NS
SITE = "t-hist"
# (device, point, quantity, room number, room type, spacing s)
SERIES = [
    ("A-101-air", "co2", "co2", "A-101", "general_classroom", 60),
    ("A-101-air", "illuminance", "illuminance", "A-101", "general_classroom", 60),
    ("A-101-air", "board_illuminance", "illuminance", "A-101", "general_classroom", 60),
    ("A-101-air", "temperature", "temperature", "A-101", "general_classroom", 60),
    ("A-101-air", "humidity", "humidity", "A-101", "general_classroom", 60),
    ("A-101-air", "noise", "noise", "A-101", "general_classroom", 60),
    ("A-101-air", "pm25", "pm25", "A-101", "general_classroom", 60),
    ("B-102-nz", "noise", "noise", "B-102", "library", 600),  # ≤1 reading per 10-min window
    ("B-101-lux", "illuminance", "illuminance", "B-101", "physics_lab", 600),
]
LEVEL = {"co2": 950, "illuminance": 320, "temperature": 20, "humidity": 55, "noise": 42, "pm25": 60}
SWING = {"co2": 300, "illuminance": 120, "temperature": 5, "humidity": 20, "noise": 8, "pm25": 30}


def _standards() -> StandardsFile:
    std = load_standards()
    extra = {
        "id": "test-humidity-instant",
        "standard": "TEST",
        "standard_title_zh": "测试",
        "clause": "1",
        "quantity": "humidity",
        "comparator": "between",
        "limit": [45, 65],
        "unit": "%RH",
        "averaging": "instant",
        "applies": {"time": "class"},
        "label_zh": "湿度瞬时 45–65 %RH",
        "label_en": "Humidity instant 45–65 %RH",
    }
    return StandardsFile.model_validate({**std.model_dump(), "rules": [*std.model_dump()["rules"], extra]})


def _campus() -> tuple[Campus, BindingTable]:
    rooms = sorted({(s[3], s[4]) for s in SERIES})
    spaces = [Space(f"g-{n}", n, t, room_type=t, storey_id="1F", building_id="B") for n, t in rooms]
    campus = Campus(
        SITE, "历史测试", "IFC4", [Building("B", "楼", SITE, "t.ifc", [Storey("1F", "1F", 0, "B", spaces)])]
    )
    types = dict(rooms)
    table = BindingTable(
        bindings=[
            Binding(
                site=SITE,
                device=d,
                point=p,
                tags=RoomTags(
                    campus=SITE, building="B", storey="1F", room=f"g-{n}", room_number=n, room_type=types[n]
                ),
            )
            for d, p, _q, n, _t, _s in SERIES
        ]
    )
    return campus, table


def _fill(store: Store) -> None:
    rng = np.random.default_rng(7)
    pts: list[StoredPoint] = []
    for device, point, quantity, _n, _t, spacing in SERIES:
        base = np.arange(START, END, spacing * NS, dtype=np.int64)
        ts = base + rng.integers(0, spacing * NS // 2, len(base))  # jittered inside each slot
        keep = rng.random(len(ts)) > 0.08  # gaps
        hours = (ts - START) / (3600 * NS)
        vals = (
            LEVEL[quantity]
            + SWING[quantity] * np.sin(hours * 1.7)
            + rng.normal(0, SWING[quantity] / 4, len(ts))
        )
        unit = CANONICAL_UNITS[quantity]
        for t, v, k, r in zip(
            ts.tolist(), vals.tolist(), keep.tolist(), rng.random(len(ts)).tolist(), strict=True
        ):
            if not k:
                continue
            key = SeriesKey(SITE, device, point)
            if r < 0.02:  # a failed read: no value
                pts.append(
                    StoredPoint(key, t, None, quantity, unit, quality="bad", reason="timeout", agent="gw")
                )
            elif r < 0.04:  # a value the device flagged bad: must not count either
                pts.append(
                    StoredPoint(key, t, 10 * v, quantity, unit, quality="bad", reason="crc", agent="gw")
                )
            else:
                pts.append(StoredPoint(key, t, round(v, 2), quantity, unit, agent="gw"))
    for i in range(0, len(pts), 20_000):
        store.write(pts[i : i + 20_000])


@dataclass
class CountingStore:
    """Counts the windows/points a store returns (what each returned row costs in Python)."""

    inner: Store
    rows: int = 0
    calls: list[int | None] = field(default_factory=list)

    def range(
        self, key: SeriesKey, start: int, end: int, every: int | None = None, agg: Agg = Agg.MEAN
    ) -> list[Window]:
        out = self.inner.range(key, start, end, every, agg)
        self.rows += len(out)
        self.calls.append(every)
        return out

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


Result = tuple[SchoolFacts, SchoolFacts, int, int]
INTERVALS = [60, 600]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Result]:
    """Per expected interval: (bulk facts, raw facts, rows bulk read, rows raw read). 60 s is the
    data's interval; at 600 s the 10-min series hold ≤1 reading per window."""
    store = SQLiteStore(Path(tmp_path_factory.mktemp("hist")) / "h.db")
    _fill(store)
    campus, table = _campus()
    std, tt = _standards(), load_timetable()
    out: dict[int, Result] = {}
    for interval in INTERVALS:
        got = []
        for bulk in (True, False):
            counting = CountingStore(store)
            facts = gather_school(
                campus,
                table,
                counting,  # type: ignore[arg-type]
                START,
                END,
                standards=std,
                timetable=tt,
                interval_s=interval,
                bulk=bulk,
            )
            got.append((facts, counting.rows))
        out[interval] = (got[0][0], got[1][0], got[0][1], got[1][1])
    store.close()
    return out


def _series(f: SchoolFacts) -> dict[tuple[str, str], Sequence[object]]:
    return {(s.device, s.point): s for r in f.rooms for s in r.series}  # type: ignore[misc]


def _close(a: float | None, b: float | None) -> bool:
    """Equal up to the float rounding of window mean × count (None only together)."""
    return (a is None and b is None) or (a is not None and b is not None and a == pytest.approx(b, rel=1e-12))


@pytest.mark.slow  # months of readings through both read paths
@pytest.mark.parametrize("interval", INTERVALS)
def test_bulk_verdicts_equal_raw_verdicts(results: dict[int, Result], interval: int) -> None:
    bulk, raw, _, _ = results[interval]
    b, r = _series(bulk), _series(raw)
    assert b.keys() == r.keys() == {(d, p) for d, p, *_ in SERIES}
    n_verdicts = 0
    statuses = set()
    for key, sb in b.items():
        sr = r[key]
        assert sb.received == sr.received > 0, key  # type: ignore[attr-defined]
        assert [v.rule_id for v in sb.verdicts] == [v.rule_id for v in sr.verdicts], key  # type: ignore[attr-defined]
        for vb, vr in zip(sb.verdicts, sr.verdicts, strict=True):  # type: ignore[attr-defined]
            where = (key, vb.rule_id)
            assert vb.status == vr.status, where
            assert (vb.windows_valid, vb.windows_compliant) == (vr.windows_valid, vr.windows_compliant), where
            assert vb.applicable_s == vr.applicable_s and vb.valid_s == pytest.approx(vr.valid_s), where
            assert vb.worst_start == vr.worst_start, where
            assert _close(vb.measured, vr.measured) and _close(vb.compliant_share, vr.compliant_share), where
            n_verdicts += 1
            statuses.add(vb.status.value)
    assert n_verdicts >= 11  # one verdict per room and rule (on its representative series)
    assert {"compliant", "non_compliant"} <= statuses  # the data exercises both outcomes
    library_noise = next(v for v in b[("B-102-nz", "noise")].verdicts)  # type: ignore[attr-defined]
    assert library_noise.rule_id == "gb50118-reading-room-noise"


@pytest.mark.parametrize("interval", INTERVALS)
def test_bulk_reads_far_fewer_rows(results: dict[int, Result], interval: int) -> None:
    _, _, bulk_rows, raw_rows = results[interval]
    assert raw_rows > 20_000  # the wall monitor's lux is never read for the desk rule
    if interval == 60:
        assert bulk_rows < raw_rows / 2  # noise series (L90) are still read raw
    else:  # the junior bell's 5-min boundaries are finer than a 10-min interval: read raw
        assert bulk_rows <= raw_rows
