"""Standards rules and the evaluator on hand-computed series (local time Asia/Shanghai, UTC+8)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from contract.yamlio import ConfigError, load_model
from twin.standards import intervals as iv
from twin.standards import load_standards
from twin.standards.evaluator import Status, evaluate
from twin.standards.occupancy import from_sensor, load_timetable
from twin.standards.schema import StandardsFile

CST = timezone(timedelta(hours=8))
MIN = 60 * 10**9


def T(h: int, m: int = 0, day: int = 7, month: int = 9) -> int:
    """ns of a local (UTC+8) time in 2026; 2026-09-07 is a Monday."""
    base = datetime(2026, month, day, tzinfo=CST) + timedelta(hours=h, minutes=m)
    return int(base.timestamp()) * 10**9


@pytest.fixture(scope="module")
def rules() -> dict[str, object]:
    return {r.id: r for r in load_standards().rules}


def test_bundled_standards_cite_each_standard_and_clause() -> None:
    s = load_standards()
    by_id = {r.id: r for r in s.rules}
    assert by_id["gb7793-desk-illuminance"].limit == 300
    assert by_id["gb7793-desk-illuminance"].clause == "5.2"
    assert by_id["gb7793-blackboard-illuminance"].limit == 500
    assert by_id["gbt17226-co2-daily"].standard == "GB/T 17226-2017"
    assert by_id["gbt17226-co2-daily"].averaging == "24h"
    assert by_id["gbt18883-co2-1h"].averaging == "1h"
    assert by_id["gbt18883-temperature-summer"].limit == (22, 28)
    assert by_id["gbt18883-temperature-winter"].limit == (16, 24)
    assert by_id["gbt18883-humidity-summer"].limit == (40, 80)
    assert by_id["gbt18883-humidity-winter"].limit == (30, 60)
    assert by_id["gbt18883-pm25-24h"].limit == 50
    assert by_id["gbt18883-pm10-24h"].limit == 100
    assert by_id["gb50118-classroom-noise"].limit == 45
    assert by_id["gb50118-classroom-noise"].mean == "energy"
    assert {r.standard for r in s.rules} == {
        "GB 7793-2010",
        "GB/T 17226-2017",
        "GB/T 18883-2022",
        "GB 50118-2010",
    }
    # summer and winter months partition the year, so temperature always has one rule
    summer = set(by_id["gbt18883-temperature-summer"].applies.months or [])
    winter = set(by_id["gbt18883-temperature-winter"].applies.months or [])
    assert summer | winter == set(range(1, 13)) and not summer & winter


def test_bad_rule_names_file_line_and_field(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(
        "v: 1\nrules:\n  - id: x\n    standard: GB\n    standard_title_zh: t\n    clause: '1'\n"
        "    quantity: co2\n    comparator: between\n    limit: 1000\n    unit: ppm\n"
        "    averaging: 1h\n    label_zh: a\n    label_en: b\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        load_model(StandardsFile, p)
    assert f"{p}:3:" in str(exc.value) and "rules[0]" in str(exc.value) and "between" in str(exc.value)
    p.write_text(p.read_text().replace("comparator: between", "comparator: '<='").replace("ppm", "'%'"))
    with pytest.raises(ConfigError, match="canonical"):
        load_model(StandardsFile, p)


def test_desk_illuminance_instant_over_a_lesson(rules: dict) -> None:
    # readings every 5 min 07:30..09:00; the lesson 08:00-08:40 holds 8 of them
    ts = np.array([T(7, 30) + k * 5 * MIN for k in range(19)])
    vals = np.full(19, 100.0)  # outside the lesson: dark, must not count
    lesson = [300, 320, 250, 400, 299, 500, 280, 310]  # 08:00 .. 08:35
    vals[6:14] = lesson
    v = evaluate(rules["gb7793-desk-illuminance"], ts, vals, iv.make([(T(8), T(8, 40))]), T(0), T(24))
    assert v.status is Status.NON_COMPLIANT
    assert v.measured == 250 and v.worst_start == T(8, 10)
    assert v.windows_valid == 8 and v.windows_compliant == 5
    assert v.compliant_share == pytest.approx(5 / 8)
    assert v.applicable_s == 2400 and v.valid_s == 2400
    assert (v.standard, v.clause) == ("GB 7793-2010", "5.2")


def test_co2_hourly_means_over_occupied_part_of_each_hour(rules: dict) -> None:
    # lessons 08:00-08:40 and 08:50-09:30: hour 8 holds 50 occupied min, hour 9 holds 30
    occ = iv.make([(T(8), T(8, 40)), (T(8, 50), T(9, 30))])
    ts = np.array([T(8) + k * 10 * MIN for k in range(12)])  # 08:00 .. 09:50
    vals = np.array([900, 1000, 1100, 1200, 5000, 1300, 800, 900, 1000, 9000, 9000, 9000], float)
    v = evaluate(rules["gbt18883-co2-1h"], ts, vals, occ, T(0), T(24), interval_ns=10 * MIN)
    # hour 8: 900,1000,1100,1200,1300 (08:40 is the break) → 1100; hour 9: 800,900,1000 → 900
    assert v.status is Status.NON_COMPLIANT
    assert v.measured == pytest.approx(1100.0) and v.worst_start == T(8)
    assert v.compliant_share == pytest.approx(1800 / (3000 + 1800))
    assert (v.windows_valid, v.windows_compliant) == (2, 1)
    assert v.applicable_s == 4800


def test_hour_without_enough_data_does_not_count(rules: dict) -> None:
    occ = iv.make([(T(8), T(8, 40)), (T(8, 50), T(9, 30))])
    ts = np.array([T(8, 0), T(8, 10), T(8, 20), T(8, 30), T(8, 50), T(9, 0)])
    vals = np.array([800, 800, 800, 800, 800, 5000], float)
    v = evaluate(rules["gbt18883-co2-1h"], ts, vals, occ, T(0), T(24), interval_ns=10 * MIN)
    # hour 9 has 10 of 30 occupied minutes covered (33 % < 75 %): not a valid window
    assert v.status is Status.COMPLIANT
    assert (v.windows_valid, v.windows_compliant) == (1, 1)
    assert v.measured == 800 and v.compliant_share == 1.0
    assert v.valid_s == 3000 and v.coverage == pytest.approx(3000 / 4800)


def test_no_data_in_occupied_time_is_insufficient(rules: dict) -> None:
    ts = np.array([T(20), T(21)])
    v = evaluate(rules["gbt18883-co2-1h"], ts, [3000.0, 3000.0], iv.make([(T(8), T(9))]), T(0), T(24))
    assert v.status is Status.INSUFFICIENT and v.measured is None and v.compliant_share is None
    v = evaluate(rules["gbt18883-co2-1h"], [], [], iv.make([(T(8), T(9))]), T(0), T(24))
    assert v.status is Status.INSUFFICIENT


def test_noise_uses_energy_mean_on_unoccupied_daytime(rules: dict) -> None:
    rule = rules["gb50118-classroom-noise"]
    # 10:00 40 dB and 10:30 50 dB: arithmetic 45 (would pass), energy mean 47.40 (fails)
    ts = np.array([T(10), T(10, 30), T(23), T(23, 30)])  # 23:xx is outside 07-22
    v = evaluate(rule, ts, [40.0, 50.0, 90.0, 90.0], iv.make([]), T(0), T(24), interval_ns=30 * MIN)
    assert v.measured == pytest.approx(10 * math.log10((1e4 + 1e5) / 2))
    assert v.status is Status.NON_COMPLIANT and v.windows_valid == 1
    assert v.applicable_s == 15 * 3600
    # the same readings during a lesson are speech, not background: not evaluated
    v = evaluate(rule, ts[:2], [40.0, 50.0], iv.make([(T(10), T(11))]), T(0), T(24), interval_ns=30 * MIN)
    assert v.status is Status.INSUFFICIENT


def test_season_decides_the_temperature_range(rules: dict) -> None:
    occ = iv.make([(T(8, day=9, month=11), T(9, day=9, month=11))])
    ts = np.array([T(8, m, day=9, month=11) for m in range(0, 60, 10)])
    vals = np.full(6, 25.0)  # fine in summer, too warm in winter
    summer = evaluate(
        rules["gbt18883-temperature-summer"], ts, vals, occ, T(0, day=9, month=11), T(24, day=9, month=11)
    )
    winter = evaluate(
        rules["gbt18883-temperature-winter"], ts, vals, occ, T(0, day=9, month=11), T(24, day=9, month=11)
    )
    assert summer.status is Status.INSUFFICIENT and summer.applicable_s == 0
    assert winter.status is Status.NON_COMPLIANT and winter.measured == 25.0
    assert winter.compliant_share == 0.0


def test_pm25_daily_means_over_whole_days(rules: dict) -> None:
    ts = np.array([T(h, day=d) for d in (7, 8) for h in range(24)])
    vals = np.array([30.0] * 12 + [50.0] * 12 + [60.0] * 24)  # day 7 mean 40, day 8 mean 60
    v = evaluate(
        rules["gbt18883-pm25-24h"], ts, vals, iv.make([]), T(0, day=7), T(0, day=9), interval_ns=60 * MIN
    )
    assert v.status is Status.NON_COMPLIANT
    assert v.measured == 60.0 and v.worst_start == T(0, day=8)
    assert v.compliant_share == pytest.approx(0.5)


def test_gbt17226_daily_mean_counts_class_time_only(rules: dict) -> None:
    occ = load_timetable().intervals(T(0), T(24))  # Monday: 8 lessons of 40 min
    ts = np.arange(T(0), T(24), 10 * MIN)
    lessons = iv.contains(occ, ts)
    vals = np.where(lessons, 950.0, 3000.0)
    vals[np.flatnonzero(lessons)[:4]] = 1150.0  # 4 of 32 readings: mean 950 + 4*200/32 = 975
    v = evaluate(rules["gbt17226-co2-daily"], ts, vals, occ, T(0), T(24), interval_ns=10 * MIN)
    assert int(lessons.sum()) == 32
    assert v.status is Status.COMPLIANT and v.measured == pytest.approx(975.0)
    assert v.applicable_s == 8 * 40 * 60


def test_interval_algebra() -> None:
    a = iv.make([(0, 10), (20, 30), (5, 12)])
    assert a.tolist() == [[0, 12], [20, 30]]
    assert iv.intersect(a, iv.make([(10, 25)])).tolist() == [[10, 12], [20, 25]]
    assert iv.complement(a, -5, 40).tolist() == [[-5, 0], [12, 20], [30, 40]]
    assert iv.contains(a, np.array([0, 12, 19, 20, 29, 30])).tolist() == [
        True,
        False,
        False,
        True,
        True,
        False,
    ]
    got = iv.covered(a, np.array([0, 5, 11, 13, 25]), np.array([40, 25, 21, 19, 26]))
    assert got.tolist() == [22, 12, 2, 0, 1]


def test_occupancy_from_sensor_holds_readings_up_to_a_limit() -> None:
    ts = [0, 10, 20, 100, 110]
    got = from_sensor(ts, [1, 3, 0, 2, float("nan")], max_hold_ns=30)
    assert got.tolist() == [[0, 20], [100, 130]]


def test_timetable_skips_weekends_and_holidays(tmp_path: Path) -> None:
    tt = load_timetable()
    week = tt.intervals(T(0, day=7), T(0, day=14))
    assert len(week) == 40 and iv.total(week) == 40 * 40 * 60 * 10**9
    p = tmp_path / "t.yaml"
    p.write_text("lessons: ['08:00-08:45']\nholidays: [2026-09-08]\n", encoding="utf-8")
    from twin.standards.occupancy import Timetable

    t2 = load_model(Timetable, p)
    assert len(t2.intervals(T(0, day=7), T(0, day=14))) == 4
    p.write_text("lessons: ['09:00-08:45']\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"t\.yaml:1:.*lessons"):
        load_model(Timetable, p)
