"""Indicators and school reports on the generated district (district.py), figures by hand."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from district import END, PERIOD, START, bindings, campuses, fill
from openpyxl import load_workbook

from store.sqlite import SQLiteStore
from twin.indicators import load_indicators
from twin.indicators.compute import DistrictReport, district_report, judge
from twin.indicators.facts import gather_school, period_ns
from twin.indicators.schema import IndicatorsFile
from twin.indicators.writers import write_report
from twin.standards import load_standards
from twin.standards.occupancy import load_timetable

CLASS_S = 2 * 8 * 40 * 60  # two school days of 8 lessons of 40 min


@pytest.fixture(scope="module")
def cfg() -> IndicatorsFile:
    return load_indicators()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, cfg: IndicatorsFile) -> Iterator[DistrictReport]:
    store = SQLiteStore(tmp_path_factory.mktemp("district") / "d.db")
    fill(store)
    std, tt, table = load_standards(), load_timetable(), bindings()
    facts = [
        gather_school(c, table, store, START, END, standards=std, timetable=tt, interval_s=600)
        for c in campuses()
    ]
    yield district_report(facts, cfg, period=PERIOD, year=2026, generated_at="2026-12-01T00:00:00+08:00")
    store.close()


def _ind(rep: DistrictReport, ind_id: str):  # type: ignore[no-untyped-def]
    return next(r for r in rep.indicators if r.indicator.id == ind_id)


def test_period_parsing() -> None:
    assert period_ns(PERIOD) == (START, END)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        period_ns("2026-09-01-2026-11-30")


def test_indicator_values_by_hand(report: DistrictReport) -> None:
    got = {r.indicator.id: r.value for r in report.indicators}
    assert got == {
        "smart-classroom-new-lab-schools": 1,  # s1 only: s2's smart classroom sent nothing
        "bim-cim-schools": 2,  # s1 5/9 bound, s3 2/3 bound; s2 1/8
        "iot-school-share": pytest.approx(200 / 3),  # s1 gw-A, s3 gw-B (+gw-X unbound)
        "iot-schools": 2,
        "teaching-room-coverage": 30.0,  # (4 + 0 + 2) live of (9 + 8 + 3) teaching rooms
        "multimedia-classrooms": 2,
        "recording-classrooms": 1,
        "computer-rooms": 3,
        "classes": 12,  # homerooms: 5 + 5 + 2
    }
    smart = _ind(report, "smart-classroom-new-lab-schools")
    assert (smart.expected_now, smart.on_track) == (400, False)
    iot = _ind(report, "iot-school-share")
    assert iot.on_track is True  # 66.7 % > 60 %


def test_every_count_names_its_rooms_devices_and_agents(report: DistrictReport) -> None:
    smart = {t["school"]: t for t in _ind(report, "smart-classroom-new-lab-schools").trace}
    s1 = smart["sz-s1"]
    assert s1["counted"] is True
    assert s1["conditions"][0]["rooms"] == ["A-101", "A-102"]
    assert s1["conditions"][0]["devices"] == ["A-101-air", "A-102-air"]
    assert s1["conditions"][1]["rooms"] == ["B-101"]
    assert smart["sz-s2"]["counted"] is False and smart["sz-s2"]["conditions"][0]["rooms"] == []
    iot = {t["school"]: t["conditions"][0]["agents"] for t in _ind(report, "iot-school-share").trace}
    assert iot == {"sz-s1": ["gw-A"], "sz-s2": [], "sz-s3": ["gw-B", "gw-X"]}
    bim = {t["school"]: t["conditions"][0] for t in _ind(report, "bim-cim-schools").trace}
    assert bim["sz-s1"]["rooms"] == ["A-101", "A-102", "A-103", "A-104", "B-101"]
    assert "5/9 rooms bound = 56%" in bim["sz-s1"]["detail"]
    mm = {t["school"]: t["rooms"] for t in _ind(report, "multimedia-classrooms").trace}
    assert mm == {"sz-s1": ["A-104"], "sz-s2": [], "sz-s3": ["C-103"]}


def test_school_rooms_coverage_and_completeness(report: DistrictReport) -> None:
    s1, s2, s3 = report.schools
    assert (s1.rooms_total, s1.teaching_rooms) == (10, 9)
    assert [r["room"] for r in s1.rooms_by_type["general_classroom"]] == ["A-103", "A-105", "A-106"]
    assert s1.rooms_by_type["smart_classroom"][0]["evidence"] == ["test-mix: LongName=smart_classroom"]
    assert s1.instrumented_rooms == ["A-101", "A-102", "A-103", "B-101"]
    assert s1.coverage == pytest.approx(4 / 9)
    # 5 full series of 288 + A-103 on Monday only (144) + A-104-mm never (0) of 7 × 288
    assert (s1.received, s1.expected) == (5 * 288 + 144, 7 * 288)
    assert s1.completeness == pytest.approx(1584 / 2016)
    assert s1.agents == {"gw-A": 1584}
    assert s1.counts["classes"] == ["A-101", "A-102", "A-103", "A-105", "A-106"]
    assert (s2.received, s2.expected, s2.completeness, s2.agents) == (0, 288, 0.0, {})
    assert s2.coverage == 0.0
    assert (s3.completeness, s3.agents) == (1.0, {"gw-B": 576, "gw-X": 6})


def test_compliance_over_class_hours(report: DistrictReport) -> None:
    s1, _, s3 = report.schools
    c = {x.rule_id: x for x in s1.compliance}
    # desk illuminance: A-101 always 350; A-102 250 on Monday's lessons → 1.0 and 0.5
    desk = c["gb7793-desk-illuminance"]
    assert desk.compliant_share == pytest.approx(0.75)
    assert (desk.rooms_evaluated, desk.rooms_compliant, desk.rooms_non_compliant) == (2, 1, 1)
    assert desk.applicable_h == pytest.approx(2 * CLASS_S / 3600)
    # CO2 hourly and daily: A-101 1.0, A-102 0.5, A-103 1.0 over Monday only (no data Tuesday)
    for rule in ("gbt18883-co2-1h", "gbt17226-co2-daily"):
        assert c[rule].compliant_share == pytest.approx(
            (CLASS_S + CLASS_S / 2 + CLASS_S / 2) / (2.5 * CLASS_S)
        )
        assert c[rule].valid_h == pytest.approx(2.5 * CLASS_S / 3600)
        assert (c[rule].rooms_compliant, c[rule].rooms_non_compliant) == (2, 1)
    assert c["gbt18883-temperature-summer"].compliant_share == 1.0
    assert c["gbt18883-temperature-winter"].rooms_insufficient == 1  # September
    assert "gb7793-blackboard-illuminance" not in c  # no blackboard sensor
    worst = [(w.room_number, w.rule_id, w.compliant_share, w.measured) for w in s1.worst]
    assert worst == [
        ("A-102", "gb7793-desk-illuminance", 0.5, 250.0),
        ("A-102", "gbt17226-co2-daily", 0.5, 1200.0),
        ("A-102", "gbt18883-co2-1h", 0.5, 1200.0),
    ]
    t = {x.rule_id: x for x in s3.compliance}["gbt18883-temperature-summer"]
    assert t.compliant_share == pytest.approx(0.75)
    assert [(w.room_number, w.measured) for w in s3.worst] == [("C-102", 30.0)]


def test_on_track_follows_the_linear_path_before_the_target_year(cfg: IndicatorsFile) -> None:
    ind = next(i for i in cfg.indicators if i.id == "smart-classroom-new-lab-schools")
    assert judge(ind, 300, 2023) == (280.0, True)  # 100 + 300 × 3/5
    assert judge(ind, 250, 2023) == (280.0, False)
    assert judge(ind, 400, 2025) == (400, True)
    no_target = next(i for i in cfg.indicators if i.id == "classes")
    assert judge(no_target, 12, 2026) == (None, None)


def test_xlsx_opens_and_holds_the_expected_cells(
    report: DistrictReport, cfg: IndicatorsFile, tmp_path: Path
) -> None:
    out = tmp_path / "report.xlsx"
    assert write_report(report, cfg, out) == [out]
    wb = load_workbook(out)
    assert wb.sheetnames == [
        "指标汇总",
        "学校明细",
        "房间类型（BIM）",
        "环境达标率（上课时段）",
        "达标最差房间",
    ]
    ws = wb["指标汇总"]
    assert ws["A2"].value == "指标\nIndicator" and ws["F2"].value == "当前值\nCurrent"
    assert ws.freeze_panes == "B3" and ws["A2"].font.bold
    rows = {r[0].value.split("\n")[0]: r for r in ws.iter_rows(min_row=3)}
    smart = rows["建有智慧教室和新型实验室的学校数"]
    assert [c.value for c in smart[1:10]] == ["预期性", "所", 100, 2020, 1, 400, 2025, 400, "否"]
    iot = rows["校园应用物联网技术的学校占比"]
    assert iot[5].value == pytest.approx(200 / 3) and iot[9].value == "是"
    ws = wb["学校明细"]
    s1 = next(r for r in ws.iter_rows(min_row=3) if r[1].value == "sz-s1")
    assert s1[0].value == "第一示范学校" and s1[3].value == 10 and s1[6].value == 4
    assert s1[7].value == pytest.approx(4 / 9) and s1[7].number_format == "0.0%"
    headers = [c.value for c in ws[2]]
    assert "班级数\nClasses" in headers and s1[headers.index("班级数\nClasses")].value == 5
    assert ws.column_dimensions["A"].width == 30
    comp = wb["环境达标率（上课时段）"]
    desk = next(r for r in comp.iter_rows(min_row=3) if r[0].value == "第一示范学校" and r[2].value == "5.2")
    assert desk[1].value == "GB 7793-2010" and desk[8].value == pytest.approx(0.75)


def test_csv_json_html(report: DistrictReport, cfg: IndicatorsFile, tmp_path: Path) -> None:
    files = write_report(report, cfg, tmp_path / "r.csv")
    assert [f.name for f in files] == [
        "r.csv",
        "r-schools.csv",
        "r-room_types.csv",
        "r-compliance.csv",
        "r-worst_rooms.csv",
    ]
    with files[0].open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][0] == "指标 Indicator"
    smart = next(r for r in rows if r[0].startswith("建有智慧教室"))
    assert smart[5] == "1" and smart[9] == "否 no"
    with files[1].open(encoding="utf-8-sig") as fh:
        s1 = next(r for r in csv.reader(fh) if r[1] == "sz-s1")
    assert s1[7] == "44.4%"

    (j,) = write_report(report, cfg, tmp_path / "r.json")
    data = json.loads(j.read_text(encoding="utf-8"))
    first = data["indicators"][0]
    assert first["indicator"]["name_zh"] == "建有智慧教室和新型实验室的学校数" and first["value"] == 1
    assert first["trace"][0]["conditions"][0]["devices"] == ["A-101-air", "A-102-air"]
    assert data["schools"][0]["compliance"][0]["standard"]

    (h,) = write_report(report, cfg, tmp_path / "r.html")
    page = h.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert "第一示范学校" in page and "指标汇总" in page and "44.4%" in page

    with pytest.raises(ValueError, match="unknown report format"):
        write_report(report, cfg, tmp_path / "r.pdf")
