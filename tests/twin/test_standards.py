"""The standards engine: shipped rules, school time, windows, and the data-driven cases in
tests/cases/standards/ run through the CLI, the engine's live state and its alert episodes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from campus_twin.cli import main
from contract.school_time import SchoolTime, load_school_time
from contract.yamlio import ConfigError, load_model
from tests.support.cases import CASES_DIR, load_cases
from twin.standards import intervals as iv
from twin.standards import load_standards
from twin.standards.cli import read_series
from twin.standards.engine import Engine
from twin.standards.evaluator import Status
from twin.standards.occupancy import class_intervals, from_sensor
from twin.standards.schema import StandardsFile

CST = timezone(timedelta(hours=8))
CASES = CASES_DIR / "standards"
CASE_DIRS = [c.dir for c in load_cases("standards")]


def T(h: int, m: int = 0, day: int = 16, month: int = 11) -> int:
    """ns of a local (UTC+8) time in 2026; 2026-11-16 is a Monday."""
    return int((datetime(2026, month, day, tzinfo=CST) + timedelta(hours=h, minutes=m)).timestamp()) * 10**9


def case_room_type(case: Path) -> str:
    """The room type a case is judged as: its `room_type.txt`, else a general classroom."""
    f = case / "room_type.txt"
    return f.read_text(encoding="utf-8").strip() if f.exists() else "general_classroom"


def case_args(case: Path) -> list[str]:
    args = [str(case / "series.csv"), "--room-type", case_room_type(case)]
    if (case / "timetable.yaml").exists():
        args += ["--timetable", str(case / "timetable.yaml")]
    if (case / "calendar.yaml").exists():
        args += ["--calendar", str(case / "calendar.yaml")]
    return args


def case_engine(case: Path) -> Engine:
    school = load_school_time(case / "timetable.yaml" if (case / "timetable.yaml").exists() else None)
    return Engine(load_standards(), school)


# ---------------------------------------------------------------- the shipped data
def test_bundled_standards_cite_each_standard_and_clause() -> None:
    s = load_standards()
    by_id = {r.id: r for r in s.rules}
    assert by_id["gb7793-desk-illuminance"].applies.roles == ["desk"]
    assert by_id["gb7793-blackboard-illuminance"].applies.roles == ["blackboard"]
    assert by_id["gbt17226-co2-daily"].averaging == "class_day"
    assert by_id["gbt18883-co2-1h"].averaging == "1h"
    assert by_id["gbt18883-tvoc-8h"].limit == 0.6 and by_id["gbt18883-tvoc-8h"].averaging == "8h"
    assert by_id["gbt18883-hcho-1h"].limit == 0.08
    assert by_id["gbt18883-pm25-24h"].averaging == "24h"
    assert by_id["gb50118-classroom-noise"].statistic == "l90"
    assert by_id["gb50118-classroom-noise"].applies.time == "empty"
    assert "toilet" not in (by_id["gbt18883-temperature-summer"].applies.room_types or ["toilet"])
    assert {r.standard for r in s.rules} == {
        "GB 7793-2010",
        "GB/T 17226-2017",
        "GB/T 18883-2022",
        "GB 50118-2010",
    }
    for zone in s.climate_zones.values():  # summer and winter never overlap
        assert not set(zone.summer) & set(zone.winter)
    assert 11 in s.season_months("summer")  # 夏热冬暖 (Shenzhen): November is summer


def test_bad_rule_names_file_line_and_field(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(
        "v: 2\nclimate_zone: z\nclimate_zones: {z: {name_zh: z, summer: [6], winter: [1]}}\nrules:\n"
        "  - id: x\n    standard: GB\n    standard_title_zh: t\n    clause: '1'\n"
        "    quantity: co2\n    comparator: between\n    limit: 1000\n    unit: ppm\n"
        "    averaging: 1h\n    label_zh: a\n    label_en: b\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        load_model(StandardsFile, p)
    assert f"{p}:5:" in str(exc.value) and "rules[0]" in str(exc.value) and "between" in str(exc.value)


def test_school_calendar_holidays_vacations_and_make_up_days() -> None:
    cal = load_school_time().calendar
    assert cal.day_kind(datetime(2026, 10, 1).date()) == "holiday"  # 国庆节
    assert cal.day_kind(datetime(2026, 10, 10).date()) == "school"  # Saturday, 调休
    assert cal.day_kind(datetime(2026, 10, 11).date()) == "weekend"
    assert cal.day_kind(datetime(2026, 8, 3).date()) == "vacation"  # 暑假
    assert cal.day_kind(datetime(2026, 11, 16).date()) == "school"


def test_school_time_errors_name_file_line_and_field(tmp_path: Path) -> None:
    p = tmp_path / "t.yaml"
    p.write_text("default_bell: a\nbells:\n  b:\n    slots: [{start: '09:00', end: '08:00', kind: lesson}]\n")
    with pytest.raises(ConfigError) as exc:
        load_model(SchoolTime, p)
    assert f"{p}:" in str(exc.value) and "slots" in str(exc.value)


def test_specialist_rooms_and_corridors_follow_their_room_use(tmp_path: Path) -> None:
    school = load_school_time()
    lessons = class_intervals(school, T(0), T(24), "general_classroom")
    assert iv.total(lessons) == 345 * 60 * 10**9  # junior: 早读 30 min + 7 lessons of 45
    assert iv.total(class_intervals(school, T(0), T(24), "corridor")) == 0
    doc = school.model_dump(by_alias=True)
    doc["room_types"] = {"physics_lab": {"lessons": [2, 5]}}
    lab = SchoolTime.model_validate(doc)
    assert iv.total(class_intervals(lab, T(0), T(24), "physics_lab")) == 2 * 45 * 60 * 10**9


def test_interval_algebra() -> None:
    a = iv.make([(0, 10), (20, 30), (5, 12)])
    assert a.tolist() == [[0, 12], [20, 30]]
    assert iv.intersect(a, iv.make([(10, 25)])).tolist() == [[10, 12], [20, 25]]
    assert iv.complement(a, -5, 40).tolist() == [[-5, 0], [12, 20], [30, 40]]
    got = iv.covered(a, np.array([0, 5, 11, 13, 25]), np.array([40, 25, 21, 19, 26]))
    assert got.tolist() == [22, 12, 2, 0, 1]


def test_occupancy_from_sensor_holds_readings_up_to_a_limit() -> None:
    got = from_sensor([0, 10, 20, 100, 110], [1, 3, 0, 2, float("nan")], max_hold_ns=30)
    assert got.tolist() == [[0, 20], [100, 130]]


# ---------------------------------------------------------------- the cases, through every path
@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_case_through_the_cli(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["standards", "check", *case_args(case), "--json"]) == 0
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert got == json.loads((case / "expected.json").read_text(encoding="utf-8"))


def test_all_listed_cases_exist() -> None:
    names = {p.name for p in CASE_DIRS}
    assert {
        "ten_minute_tail",
        "daily_class_mean_vs_trailing_24h",
        "holiday",
        "make_up_saturday",
        "break_at_2000",
        "noise_breaks_vs_empty",
        "desk_vs_wall_lux",
        "shenzhen_november_27c",
        "tvoc_8h",
        "pm25_exactly_50",
        "bound_role_beats_name",
        "dead_point",
        "interval_change",
        "mixed_intervals",
        "duplicate_exports",
        "five_minute_logger",
        "spring_term_2027",
        "beyond_the_calendar",
        "excel_gbk_export",
        "science_lab_all_teaching_rules",
        "music_room_added_by_yaml",
    } <= names  # each with its one-line README: tests.support.cases refuses a case without


@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_case_alert_episodes_agree_with_the_verdicts(case: Path) -> None:
    """One episode per breach run and quantity, listing every rule it breaks: a
    non-compliant rule always has an episode, a case without breaches has none."""
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))["rules"]
    engine = case_engine(case)
    series = read_series(case / "series.csv", engine.tz)
    start, end = _day_bounds(series, engine)
    verdicts = engine.evaluate_room(case_room_type(case), series, start, end)
    episodes = engine.episodes(verdicts)
    breaking = {r["id"] for r in expected if r["status"] == "non_compliant"}
    listed = [r for e in episodes for r in e.rules]
    assert breaking <= set(listed)
    assert len(listed) == len(set((e.quantity, e.start, r) for e in episodes for r in e.rules))
    assert len({(e.quantity, e.start) for e in episodes}) == len(episodes)
    if not breaking:
        assert all(r in {x["id"] for x in expected} for r in listed)


def _day_bounds(series: list[Any], engine: Engine) -> tuple[int, int]:
    first = min(int(s.ts.min()) for s in series)
    last = max(int(s.ts.max()) for s in series)
    return engine.day_start(first), engine.day_start(last) + 86_400 * 10**9


def test_co2_breach_is_one_episode_listing_both_rules() -> None:
    case = CASES / "daily_class_mean_vs_trailing_24h"
    engine = case_engine(case)
    series = read_series(case / "series.csv", engine.tz)
    eps = engine.episodes(engine.evaluate_room("general_classroom", series, *_day_bounds(series, engine)))
    assert [e.quantity for e in eps] == ["co2"]
    assert set(eps[0].rules) == {"gbt17226-co2-daily", "gbt18883-co2-1h"} and eps[0].worst == 1200


def test_live_state_in_the_big_break_says_not_in_class() -> None:
    case = CASES / "break_at_2000"
    engine = case_engine(case)
    series = read_series(case / "series.csv", engine.tz)
    cut = [
        type(s)(s.point, s.quantity, s.ts[s.ts <= T(9, 50)], s.values[s.ts <= T(9, 50)], s.role, s.device)
        for s in series
    ]
    live = {v.rule_id: v for v in engine.live_room("general_classroom", cut, T(9, 50))}
    v = live["gbt18883-co2-1h"]
    assert v.status is Status.NOT_APPLICABLE and v.reason is not None and v.reason.en == "not in class"
    # in a lesson the running 1-h window is judged (here 800 ppm: compliant)
    cut = [
        type(s)(s.point, s.quantity, s.ts[s.ts <= T(10, 30)], s.values[s.ts <= T(10, 30)], s.role, s.device)
        for s in series
    ]
    live = {v.rule_id: v for v in engine.live_room("general_classroom", cut, T(10, 30))}
    assert live["gbt18883-co2-1h"].status is Status.COMPLIANT


def test_cli_bad_input_names_file_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "s.csv"
    p.write_text("ts,quantity,value\n2026-11-16T08:00:00,co2,900\n2026-11-16T08:01:00,co2,lots\n")
    assert main(["standards", "check", str(p), "--room-type", "general_classroom"]) == 2
    err = capsys.readouterr().err
    assert f"{p}:3: value:" in err and "Traceback" not in err
    p.write_text("2026-11-16 08:00,carbon,900\n")
    assert main(["standards", "check", str(p), "--room-type", "general_classroom"]) == 2
    assert f"{p}:1: quantity:" in capsys.readouterr().err
    p.write_text("yesterday,co2,900\n")
    assert main(["standards", "check", str(p), "--room-type", "general_classroom"]) == 2
    assert f"{p}:1: ts:" in capsys.readouterr().err
    assert main(["standards", "check", str(tmp_path / "missing.csv"), "--room-type", "office"]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["standards", "check", str(p), "--room-type", "general_clasroom"]) == 2
    assert "--room-type: unknown 'general_clasroom'" in capsys.readouterr().err


def test_cli_accepts_utc_timestamps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """2026-11-15T23:30Z is 07:30 in Beijing: readings to 08:35Z cover the local school day."""
    p = tmp_path / "s.csv"
    t0 = datetime(2026, 11, 15, 23, 30, tzinfo=UTC)
    rows = [f"{(t0 + timedelta(minutes=m)).strftime('%Y-%m-%dT%H:%M:%SZ')},co2,1500" for m in range(545)]
    p.write_text("\n".join(rows) + "\n")
    assert main(["standards", "check", str(p), "--room-type", "general_classroom", "--json"]) == 0
    got = {r["id"]: r for r in json.loads(capsys.readouterr().out.splitlines()[-1])["rules"]}
    assert got["gbt17226-co2-daily"]["status"] == "non_compliant"
    assert got["gbt17226-co2-daily"]["measured"] == 1500
    assert got["gbt18883-co2-1h"]["windows_total"] == 6  # 345 class minutes, all covered


# ---------------------------------------------------------------- report and live state, over a store
SITE = "case"


def _store_case(case: Path, tmp_path: Path) -> tuple[Any, Any, Any, list[Any], Engine]:
    from contract.bindings import Binding, BindingTable, RoomTags
    from contract.telemetry import CANONICAL_UNITS, SeriesKey
    from store.base import StoredPoint
    from store.sqlite import SQLiteStore
    from twin.model import Building, Campus, Space, Storey

    engine = case_engine(case)
    series = read_series(case / "series.csv", engine.tz)
    store = SQLiteStore(tmp_path / "case.db")
    pts = [
        StoredPoint(
            SeriesKey(SITE, "logger", s.point), int(t), float(v), s.quantity, CANONICAL_UNITS[s.quantity]
        )
        for s in series
        for t, v in zip(s.ts, s.values, strict=True)
    ]
    store.write(pts)
    space = Space("R1", "A-101", "普通教室", room_type=case_room_type(case), storey_id="S1", building_id="B1")
    campus = Campus(
        SITE,
        "案例",
        buildings=[Building("B1", "楼", SITE, "c.ifc", storeys=[Storey("S1", "1F", 0.0, "B1", [space])])],
    )
    tags = RoomTags(
        campus=SITE,
        building="B1",
        storey="S1",
        room="R1",
        room_number="A-101",
        room_type=case_room_type(case),
    )
    # one binding per point, with the role the CSV declares (as a binding file or the
    # generator's profile default would): the report, live and alert paths take it from there
    roles = {s.point: s.role for s in series}
    table = BindingTable(
        bindings=[
            Binding(site=SITE, device="logger", point=p, tags=tags, role=r)  # type: ignore[arg-type]
            for p, r in roles.items()
        ]
    )
    return store, campus, table, series, engine


@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_case_through_the_report(case: Path, tmp_path: Path) -> None:
    """The report path (store → twin.indicators.facts, bulk reads) gives the CLI's verdicts for
    every rule it evaluates (it skips rules without a sensor of the role)."""
    from twin.indicators.facts import gather_school

    store, campus, table, series, engine = _store_case(case, tmp_path)
    start, end = _day_bounds(series, engine)
    expected = {r["id"]: r for r in json.loads((case / "expected.json").read_text(encoding="utf-8"))["rules"]}
    for bulk in (True, False):
        facts = gather_school(
            campus, table, store, start, end, standards=engine.standards, timetable=engine.school, bulk=bulk
        )
        got = {v.rule_id: v for r in facts.rooms for s in r.series for v in s.verdicts}
        assert got, case.name
        for rule_id, v in got.items():
            e = expected[rule_id]
            assert v.status.value.replace("no_sensor", "not_applicable") == e["status"], (rule_id, bulk)
            assert (v.windows_compliant, v.windows_valid) == (e["windows_ok"], e["windows_total"]), rule_id
            if e["measured"] is not None:
                assert v.measured == pytest.approx(e["measured"], abs=1e-3), rule_id
    store.close()


@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_case_through_the_live_state(case: Path, tmp_path: Path) -> None:
    """At the end of each rule's last judged window, the live state (store → twin.live) judges
    that window as the period evaluation does (value and verdict)."""
    from twin.live import room_states

    store, campus, table, series, engine = _store_case(case, tmp_path)
    start, end = _day_bounds(series, engine)
    period = {v.rule_id: v for v in engine.evaluate_room(case_room_type(case), series, start, end)}
    checked = 0
    for rule_id, v in period.items():
        judged = [w for w in v.windows if w.judged]
        if not judged:
            continue
        now = judged[-1].end - 1
        live = {x.rule_id: x for x in room_states(campus, table, store, now, engine=engine)["R1"].verdicts}
        want = Status.COMPLIANT if judged[-1].passes else Status.NON_COMPLIANT
        assert live[rule_id].status is want, (rule_id, live[rule_id])
        assert live[rule_id].value == pytest.approx(judged[-1].value, abs=1e-6)
        checked += 1
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))["rules"]
    assert checked == sum(1 for r in expected if r["windows_total"]), case.name
    live_file = case / "live.json"
    if live_file.exists():
        spec = json.loads(live_file.read_text(encoding="utf-8"))
        now = int(datetime.fromisoformat(spec["at"]).timestamp()) * 10**9
        st = room_states(campus, table, store, now, engine=engine)["R1"]
        got = {x.rule_id: x for x in st.verdicts}
        for rule_id, want_spec in spec["rules"].items():
            assert got[rule_id].status.value == want_spec["status"], rule_id
            assert got[rule_id].reason is not None and got[rule_id].reason.en == want_spec["reason_en"]
        assert st.status.value == spec["room_status"]
    store.close()


def test_docs_list_every_rule() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "standards.md").read_text(encoding="utf-8")
    for rule in load_standards().rules:
        assert f"`{rule.id}`" in doc, rule.id


def test_cli_calendar_file_and_presence_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A district calendar can close a day (运动会 as a holiday); a presence column saying the
    room is empty (class at PE) takes its lessons out of class time."""
    series = CASES / "daily_class_mean_vs_trailing_24h" / "series.csv"
    cal = tmp_path / "calendar.yaml"
    cal.write_text("holidays:\n  - {from: '2026-11-16', to: '2026-11-16', name: 运动会}\n", encoding="utf-8")
    assert (
        main(
            [
                "standards",
                "check",
                str(series),
                "--room-type",
                "general_classroom",
                "--calendar",
                str(cal),
                "--json",
            ]
        )
        == 0
    )
    got = json.loads(capsys.readouterr().out.splitlines()[-1])["rules"]
    assert {(r["status"], r["reason"]["en"]) for r in got} == {("not_applicable", "holiday")}
    cal.write_text("holidays:\n  - {from: '2026-11-16', to: 2026-11-15}\n  - {frm: x}\n", encoding="utf-8")
    assert (
        main(["standards", "check", str(series), "--room-type", "general_classroom", "--calendar", str(cal)])
        == 2
    )
    assert f"{cal}:3:" in capsys.readouterr().err
    # presence: empty all morning (the class is out), in use after lunch
    rows = ["ts,quantity,value,point,role,presence"]
    for m in range(7 * 60 + 30, 16 * 60 + 35):
        busy = m >= 12 * 60
        rows.append(
            f"2026-11-16T{m // 60:02d}:{m % 60:02d}:00,co2,{900 if busy else 1500},co2,wall,{int(busy)}"
        )
    p = tmp_path / "presence.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["standards", "check", str(p), "--room-type", "general_classroom", "--json"]) == 0
    got = {r["id"]: r for r in json.loads(capsys.readouterr().out.splitlines()[-1])["rules"]}
    # afternoon lessons only: 14:00-14:45, 14:55-15:40, 15:50-16:35 = 135 min at 900 ppm
    assert got["gbt17226-co2-daily"]["status"] == "compliant" and got["gbt17226-co2-daily"]["measured"] == 900
    assert got["gbt18883-co2-1h"]["windows_total"] == 3


# ---------------------------------------------------------------- per-campus engine settings
def test_campus_settings_default_to_the_shipped_files() -> None:
    from contract.school_time import load_school_time
    from twin.standards import load_standards
    from twin.standards.settings import CampusStandards, campus_engine

    shipped = load_standards()
    for settings in (None, CampusStandards()):
        eng = campus_engine(settings)
        assert eng.standards.climate_zone == shipped.climate_zone == "hot_summer_warm_winter"
        assert eng.school == load_school_time() and eng.level is None
    eng = campus_engine(CampusStandards(climate_zone="cold", school_level="primary"))
    assert eng.standards.climate_zone == "cold" and eng.level == "primary"
    assert eng.standards.season_months("winter") == [11, 12, 1, 2, 3]
    with pytest.raises(ValueError, match="'tropical' is not one of"):
        campus_engine(CampusStandards(climate_zone="tropical"))


def test_campus_climate_zone_and_calendar_reach_the_report_and_live_state(tmp_path: Path) -> None:
    """The Shenzhen November case (27 °C, compliant in 夏热冬暖) judged for a campus configured
    as 寒冷 (cold: November is winter, 16–24 °C) fails; with its own calendar making that day a
    holiday, the rule is not applicable (holiday) — in the report and the live state alike."""
    from twin.indicators.facts import gather_school
    from twin.live import room_states
    from twin.standards import load_standards
    from twin.standards.settings import CampusStandards, campus_engine

    case = CASES / "shenzhen_november_27c"
    store, campus, table, series, engine = _store_case(case, tmp_path)
    start, end = _day_bounds(series, engine)
    shipped = load_standards()

    def report() -> dict[str, Any]:
        facts = gather_school(campus, table, store, start, end, standards=shipped, timetable=engine.school)
        return {v.rule_id: v for r in facts.rooms for s in r.series for v in s.verdicts}

    assert report()["gbt18883-temperature-summer"].status is Status.COMPLIANT  # shipped zone
    campus.standards = CampusStandards(climate_zone="cold")
    got = report()
    assert got["gbt18883-temperature-winter"].status is Status.NON_COMPLIANT
    assert got["gbt18883-temperature-summer"].status is Status.NOT_APPLICABLE
    cold = campus_engine(campus.standards)
    period = {v.rule_id: v for v in cold.evaluate_room("general_classroom", series, start, end)}
    noon = [w for w in period["gbt18883-temperature-winter"].windows if w.judged][-1].end - 1
    live = {v.rule_id: v for v in room_states(campus, table, store, noon, standards=shipped)["R1"].verdicts}
    assert live["gbt18883-temperature-winter"].status is Status.NON_COMPLIANT

    cal = tmp_path / "district-calendar.yaml"
    day = datetime.fromtimestamp(int(series[0].ts[0]) // 10**9, engine.tz).date().isoformat()
    cal.write_text(f"holidays:\n  - {{from: {day}, to: {day}, name: 区运动会}}\n", encoding="utf-8")
    campus.standards = CampusStandards(climate_zone="cold", calendar=cal)
    got = report()
    assert got["gbt18883-temperature-winter"].status is Status.NOT_APPLICABLE
    assert got["gbt18883-temperature-winter"].reason is not None
    assert got["gbt18883-temperature-winter"].reason.en == "holiday"
    live = {v.rule_id: v for v in room_states(campus, table, store, noon, standards=shipped)["R1"].verdicts}
    assert live["gbt18883-temperature-winter"].status is Status.NOT_APPLICABLE
    store.close()


# ---------------------------------------------------------------- real exports, real calendars
def _csv(tmp_path: Path, body: str, encoding: str = "utf-8") -> Path:
    p = tmp_path / "export.csv"
    p.write_bytes(body.encode(encoding))
    return p


def test_cli_refuses_implausible_nan_and_inf_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """−400 ppm, NaN and inf are refused (counted, listed), never judged: the 900 ppm day complies."""
    rows = [f"2026-11-16T{m // 60:02d}:{m % 60:02d}:00,co2,900" for m in range(7 * 60, 17 * 60)]
    rows[100] = rows[100].replace(",900", ",-400")
    rows[101] = rows[101].replace(",900", ",nan")
    rows[102] = rows[102].replace(",900", ",inf")
    p = _csv(tmp_path, "ts,quantity,value\n" + "\n".join(rows) + "\n")
    assert main(["standards", "check", str(p), "--room-type", "general_classroom", "--json"]) == 0
    out = capsys.readouterr()
    got = {r["id"]: r for r in json.loads(out.out.splitlines()[-1])["rules"]}
    assert got["gbt18883-co2-1h"]["status"] == "compliant" and got["gbt18883-co2-1h"]["measured"] == 900
    assert "3 row(s) refused" in out.err and f"{p}:102: co2 -400 outside 0..10000" in out.err
    assert f"{p}:103: co2 nan" in out.err and f"{p}:104: co2 inf" in out.err


def test_cli_header_level_tz_and_encoding_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = _csv(tmp_path, "time,sensor,reading\n2026-11-16T08:00:00,co2,900\n")
    assert main(["standards", "check", str(p), "--room-type", "general_classroom"]) == 2
    err = capsys.readouterr().err
    assert (
        f"{p}:1: header: expected columns ts,quantity,value" in err and "missing ts, quantity, value" in err
    )
    p = _csv(tmp_path, "ts,quantity,value\n2026-11-16T08:00:00,co2,900\n")
    assert main(["standards", "check", str(p), "--room-type", "general_classroom", "--level", "senoir"]) == 2
    assert "--level: unknown 'senoir'; known:" in capsys.readouterr().err
    assert (
        main(["standards", "check", str(p), "--room-type", "general_classroom", "--campus-tz", "Mars/Base"])
        == 2
    )
    assert "--campus-tz: unknown time zone" in capsys.readouterr().err
    p = _csv(tmp_path, "ts,quantity,value\n# 教室 A-101\n2026-11-16T08:00:00,co2,900\n", "gbk")
    assert (
        main(["standards", "check", str(p), "--room-type", "general_classroom", "--encoding", "utf-8"]) == 2
    )
    err = capsys.readouterr().err
    assert f"{p}:2:3: not valid utf-8 (byte 0x" in err and "Traceback" not in err
    assert main(["standards", "check", str(p), "--room-type", "general_classroom", "--encoding", "gbk"]) == 0
    capsys.readouterr()
    p.write_bytes(b"\xff\xfe\x00\x81\x30\x81\x30" * 3)
    assert main(["standards", "check", str(p), "--room-type", "general_classroom"]) == 2
    assert "neither UTF-8 nor GB18030/GBK" in capsys.readouterr().err


def test_cli_tz_is_for_timestamps_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Naive UTC timestamps with --tz UTC: the bell stays Beijing's (1250 ppm in lessons is a
    breach), it used to move 8 h and judge the night (compliant 658)."""
    t0 = datetime(2026, 11, 15, 22, 0)  # 06:00 Beijing
    rows = []
    for m in range(13 * 60):
        local = t0 + timedelta(hours=8, minutes=m)
        lesson = any(
            datetime(2026, 11, 16, *a) <= local < datetime(2026, 11, 16, *b)
            for a, b in [((7, 30), (11, 50)), ((14, 0), (16, 35))]
        )
        rows.append(f"{(t0 + timedelta(minutes=m)).isoformat()},co2,{1250 if lesson else 450}")
    p = _csv(tmp_path, "\n".join(rows) + "\n")
    assert (
        main(["standards", "check", str(p), "--room-type", "general_classroom", "--tz", "UTC", "--json"]) == 0
    )
    got = {r["id"]: r for r in json.loads(capsys.readouterr().out.splitlines()[-1])["rules"]}
    assert got["gbt17226-co2-daily"]["status"] == "non_compliant"
    assert got["gbt17226-co2-daily"]["measured"] == 1250


def test_shipped_calendar_covers_this_and_next_school_year() -> None:
    from datetime import date

    cal = load_school_time().calendar
    assert cal.problems() == []
    assert cal.day_kind(date(2027, 3, 10)) == "school"  # 2026-27 spring term
    assert cal.day_kind(date(2027, 10, 12)) == "school"  # 2027-28
    assert cal.day_kind(date(2028, 9, 6)) == "no_calendar"
    assert cal.notice(date(2026, 12, 7)) is None
    notice = cal.notice(date(2028, 7, 20), "sz-01")
    assert notice is not None and "2028-08-31" in notice and "42" in notice and notice.startswith("sz-01")


def test_district_calendar_yaml_and_csv_are_validated(tmp_path: Path) -> None:
    from contract.school_time import load_calendar

    y = tmp_path / "cal.yaml"
    y.write_text(
        "terms:\n"
        "  - {name: 上, start: '2027-09-01', end: '2028-01-21'}\n"
        "  - {name: 下, start: '2028-01-10', end: '2028-07-07'}\n"
        "holidays:\n"
        "  - {from: '2029-10-01', to: '2029-10-07', name: 国庆节}\n"
        "make_up_days: ['2027-09-29']\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        load_calendar(y)
    msg = str(exc.value)
    assert f"{y}:3:" in msg and "inside term '上'" in msg
    assert f"{y}:5:" in msg and "outside every term" in msg
    assert f"{y}:6:" in msg and "调休 2027-09-29 is a Wednesday" in msg
    c = tmp_path / "cal.csv"
    c.write_bytes(
        "kind,from,to,name\nterm,2027-09-01,2028-01-21,第一学期\nholiday,2027-10-01,2027-10-07,国庆节\n"
        "make_up,2027-09-26,,调休\nholiday,2027-13-01,,坏日期\n".encode("gbk")
    )
    with pytest.raises(ConfigError) as exc:
        load_calendar(c)
    assert f"{c}:5: from/to:" in str(exc.value)
    c.write_bytes(c.read_bytes().replace("holiday,2027-13-01,,坏日期\n".encode("gbk"), b""))
    cal = load_calendar(c)
    assert cal.day_kind(datetime(2027, 10, 2).date()) == "holiday"
    assert cal.day_kind(datetime(2027, 9, 26).date()) == "school"  # Sunday 调休
    assert cal.day_kind(datetime(2028, 3, 1).date()) == "no_calendar"


def test_pm25_24h_mean_needs_20_hours_of_data() -> None:
    """GB 3095-2012: a 24-h mean needs ≥ 20 h of data — 19 h of 80 µg/m³ is insufficient, 21 h
    is judged (non-compliant)."""
    import numpy as np

    from twin.standards.evaluator import Series

    engine = Engine()
    day0 = T(0)
    for hours, want in ((19, Status.INSUFFICIENT), (21, Status.NON_COMPLIANT)):
        ts = day0 + np.arange(hours * 60, dtype=np.int64) * 60 * 10**9
        series = [Series("pm", "pm25", ts, np.full(len(ts), 80.0), "wall")]
        got = {v.rule_id: v for v in engine.evaluate_room("general_classroom", series, day0, T(24))}
        assert got["gbt18883-pm25-24h"].status is want, hours


def test_cli_says_how_many_duplicate_rows_it_counted_once(capsys: pytest.CaptureFixture[str]) -> None:
    series = CASES / "duplicate_exports" / "series.csv"
    assert main(["standards", "check", str(series), "--room-type", "general_classroom"]) == 0
    assert "note: 30 row(s) repeat a point's timestamp" in capsys.readouterr().err  # 15:10–15:40
