"""Indicator report history reads: bulk (store-side windows) vs raw points vs a bare store read.

A generated school with N bound series (co2, illuminance, temperature, humidity, pm25, noise in
turn, one classroom each) and one term of one-minute readings in SQLite. Timed:
- bare: `store.range(key, start, end)` of every series — the floor of reading all points;
- raw path: the per-school facts reading every raw point (`gather_school(..., bulk=False)`);
- bulk path: the same facts from store-side windows (`bulk=True`, the default);
- assemble: plan indicators, room facts, form sheets and 护眼 from those facts (pure), and
  writing the XLSX, as ratios of the bulk path.
Ratios are against the bare read measured in the same run; the verdicts of both paths are
compared so a speed-up never hides a different result.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from bench.timing import best, print_figures

QUANTITIES = ("co2", "illuminance", "temperature", "humidity", "pm25", "noise")
LEVEL = {"co2": 900, "illuminance": 330, "temperature": 22, "humidity": 60, "pm25": 40, "noise": 43}
SWING = {"co2": 350, "illuminance": 150, "temperature": 5, "humidity": 15, "pm25": 25, "noise": 6}
CST = timezone(timedelta(hours=8))
NS = 10**9


def _district(n: int) -> tuple[Any, Any, list[tuple[str, str, str]]]:
    from contract.bindings import Binding, BindingTable, RoomTags
    from twin.model import Building, Campus, Space, Storey

    series = [(f"A-{i + 101}-s", QUANTITIES[i % len(QUANTITIES)], f"A-{i + 101}") for i in range(n)]
    spaces = [Space(f"g-{r}", r, "普通教室", room_type="general_classroom") for _, _, r in series]
    campus = Campus(
        "bench",
        "基准学校",
        "IFC4",
        [Building("B", "A", "bench", "b.ifc", [Storey("1F", "1F", 0, "B", spaces)])],
    )
    tags = {
        r: RoomTags(
            campus="bench",
            building="A",
            storey="1F",
            room=f"g-{r}",
            room_number=r,
            room_type="general_classroom",
        )
        for _, _, r in series
    }
    table = BindingTable(
        bindings=[Binding(site="bench", device=d, point=q, tags=tags[r]) for d, q, r in series]
    )
    return campus, table, series


def _fill(store: Any, series: list[tuple[str, str, str]], start: int, end: int) -> int:
    from contract.telemetry import CANONICAL_UNITS, SeriesKey
    from store.base import StoredPoint

    rng = np.random.default_rng(1)
    total = 0
    for device, q, _room in series:
        ts = np.arange(start, end, 60 * NS, dtype=np.int64) + rng.integers(
            0, 30 * NS, (end - start) // (60 * NS)
        )
        hours = (ts - start) / (3600 * NS)
        vals = LEVEL[q] + SWING[q] * np.sin(hours * 2 * np.pi / 24) + rng.normal(0, SWING[q] / 5, len(ts))
        key, unit = SeriesKey("bench", device, q), CANONICAL_UNITS[q]
        pts = [
            StoredPoint(key, t, v, q, unit, agent="gw-A")
            for t, v in zip(ts.tolist(), np.round(vals, 2).tolist(), strict=True)
        ]
        for i in range(0, len(pts), 50_000):
            store.write(pts[i : i + 50_000])
        total += len(pts)
    return total


def _signature(facts: Any) -> list[tuple[Any, ...]]:
    return [
        (
            s.device,
            s.point,
            s.received,
            v.rule_id,
            v.status.value,
            v.windows_valid,
            v.windows_compliant,
            v.worst_start,
            round(v.measured or 0, 6),
        )
        for r in facts.rooms
        for s in r.series
        for v in s.verdicts
    ]


def main(argv: list[str] | None = None) -> int:
    from store.sqlite import SQLiteStore
    from twin.indicators import load_indicators
    from twin.indicators.build import assemble, roster_of
    from twin.indicators.facts import gather_school
    from twin.indicators.forms import load_forms
    from twin.indicators.inputs import ManualInputs
    from twin.indicators.writers import write_report
    from twin.standards import load_standards
    from twin.standards.occupancy import load_timetable

    ap = argparse.ArgumentParser(prog="campus-twin bench report")
    ap.add_argument("--series", type=int, default=6, help="bound series (one classroom each)")
    ap.add_argument("--days", type=int, default=120, help="term length in days of one-minute data")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    start = int(datetime(2026, 9, 1, tzinfo=CST).timestamp()) * NS
    end = start + args.days * 86400 * NS
    campus, table, series = _district(args.series)
    std, tt = load_standards(), load_timetable()
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "bench.db")
        t0 = time.perf_counter()
        points = _fill(store, series, start, end)
        fill_s = time.perf_counter() - t0
        keys = [i.key for i in store.series()]

        def bare() -> int:
            return sum(len(store.range(k, start, end)) for k in keys)

        def facts(bulk: bool) -> Any:
            return gather_school(
                campus, table, store, start, end, standards=std, timetable=tt, interval_s=60, bulk=bulk
            )

        bare_s, _ = best(bare, args.repeat)
        raw_s, raw = best(lambda: facts(False), args.repeat)
        bulk_s, bulk = best(lambda: facts(True), args.repeat)
        store.close()
        cfg, forms = load_indicators(), load_forms()

        def report() -> Any:
            return assemble(
                [bulk],
                [campus],
                roster_of([campus]),
                ManualInputs(),
                cfg,
                forms,
                period="bench",
                year=2026,
                generated_at="-",
                standards=std,
            )

        assemble_s, rep = best(report, args.repeat)
        xlsx_s, _ = best(lambda: write_report(rep, cfg, Path(tmp) / "r.xlsx", forms), args.repeat)
    sig_raw, sig_bulk = _signature(raw), _signature(bulk)
    result = {
        "series": args.series,
        "days": args.days,
        "points": points,
        "fill_s": round(fill_s, 2),
        "bare_read_s": round(bare_s, 3),
        "raw_path_s": round(raw_s, 3),
        "bulk_path_s": round(bulk_s, 3),
        "raw_path_per_series_s": round(raw_s / args.series, 3),
        "bulk_path_per_series_s": round(bulk_s / args.series, 3),
        "ratio_raw_vs_bare": round(raw_s / bare_s, 2),
        "ratio_bulk_vs_bare": round(bulk_s / bare_s, 2),
        "speedup_bulk_vs_raw": round(raw_s / bulk_s, 2),
        "assemble_s": round(assemble_s, 4),
        "xlsx_s": round(xlsx_s, 3),
        "ratio_assemble_vs_bulk": round(assemble_s / bulk_s, 4),
        "ratio_xlsx_vs_bulk": round(xlsx_s / bulk_s, 3),
        "verdicts": len(sig_bulk),
        "same_verdicts": [s[:8] for s in sig_raw] == [s[:8] for s in sig_bulk]
        and all(
            abs(a[8] - b[8]) <= 1e-6 * max(1.0, abs(a[8])) for a, b in zip(sig_raw, sig_bulk, strict=True)
        ),
    }
    print_figures(result, args.json)
    return 0 if result["same_verdicts"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
