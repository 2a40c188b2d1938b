"""Standards engine: one room's term evaluated by `Engine.evaluate_room` vs a bare numpy pass.

A classroom with co2, desk illuminance, temperature, humidity, pm25, tvoc and noise readings
once a minute over N days. Timed (best of --repeat):
- baseline: per series, local-day means with one `np.bincount` — the least work any
  evaluation of those readings does (no windows, no class time, no verdicts);
- engine: `Engine.evaluate_room` — class time from the calendar and bell, windows of class
  time, L90 of empty time, shares, statuses.
The ratio engine / baseline is measured in the same run.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from bench.timing import best, print_figures

CST = timezone(timedelta(hours=8))
NS = 10**9
LEVEL = {
    "co2": 900,
    "illuminance": 330,
    "temperature": 24,
    "humidity": 60,
    "pm25": 40,
    "tvoc": 0.5,
    "noise": 43,
}


def main(argv: list[str] | None = None) -> int:
    from twin.standards.engine import Engine
    from twin.standards.evaluator import Series

    ap = argparse.ArgumentParser(prog="campus-twin bench standards")
    ap.add_argument("--days", type=int, default=120)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    start = int(datetime(2026, 9, 1, tzinfo=CST).timestamp()) * NS
    end = start + args.days * 86_400 * NS
    ts = np.arange(start, end, 60 * NS, dtype=np.int64)
    rng = np.random.default_rng(7)
    series = [
        Series(q, q, ts, v * (1 + 0.2 * rng.standard_normal(len(ts))), "desk" if q == "illuminance" else None)
        for q, v in LEVEL.items()
    ]
    engine = Engine()

    def baseline() -> list[Any]:
        out = []
        for s in series:
            day = (s.ts - start) // (86_400 * NS)
            out.append(np.bincount(day, weights=s.values) / np.bincount(day))
        return out

    t_base, _ = best(baseline, args.repeat)
    t_eng, verdicts = best(lambda: engine.evaluate_room("general_classroom", series, start, end), args.repeat)
    fig = {
        "days": args.days,
        "points": int(len(ts) * len(series)),
        "rules": len(verdicts),
        "baseline_s": round(t_base, 4),
        "engine_s": round(t_eng, 3),
        "ratio_engine_vs_baseline": round(t_eng / t_base, 1),
        "engine_points_per_s": int(len(ts) * len(series) / t_eng),
    }
    print_figures(fig, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
