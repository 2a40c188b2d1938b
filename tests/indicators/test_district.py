"""Indicators and school reports on the generated district (district.py), figures by hand."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from store.sqlite import SQLiteStore
from tests.indicators.district import END, MIX, NAMES, PERIOD, START, bindings, campuses, fill
from twin.indicators import load_indicators
from twin.indicators.build import DistrictReport, assemble, roster_of
from twin.indicators.compute import judge
from twin.indicators.facts import gather_school, period_ns
from twin.indicators.forms import load_forms
from twin.indicators.inputs import Jurisdiction, ManualInputs, Provenance, Roster, RosterSchool
from twin.indicators.schema import IndicatorsFile, Level
from twin.indicators.writers import write_report
from twin.standards import load_standards
from twin.standards.occupancy import load_timetable

CLASS_S = 2 * 345 * 60  # two school days of the junior bell: 早读 30 min + 7 lessons of 45 min


@pytest.fixture(scope="module")
def cfg() -> IndicatorsFile:
    return load_indicators()


def roster(level: Level = "district", extra: int = 1) -> Roster:
    """The three twin schools plus `extra` schools without a twin (still in every denominator)."""
    schools = [RosterSchool(id=c, name=NAMES[c], type="初中", district="南山区") for c in MIX]
    schools += [
        RosterSchool(id=f"sz-x{i}", name=f"无模型学校{i}", type="小学", district="南山区")
        for i in range(extra)
    ]
    return Roster(
        jurisdiction=Jurisdiction(
            level=level, name="南山区" if level == "district" else "深圳市", city="深圳市"
        ),
        provenance=Provenance(entered_by="test", entered_at=dt.date(2026, 9, 1), source="test roster"),
        schools=schools,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, cfg: IndicatorsFile) -> Iterator[DistrictReport]:
    store = SQLiteStore(tmp_path_factory.mktemp("district") / "d.db")
    fill(store)
    std, tt, table = load_standards(), load_timetable(), bindings()
    cs = campuses()
    facts = [
        gather_school(c, table, store, START, END, standards=std, timetable=tt, interval_s=600) for c in cs
    ]
    yield assemble(
        facts,
        cs,
        roster(),
        ManualInputs(),
        cfg,
        load_forms(),
        period=PERIOD,
        year=2026,
        generated_at="2026-12-01T00:00:00+08:00",
        agents={f.campus_id: f.agents for f in facts},
    )
    store.close()


def _ind(rep: DistrictReport, ind_id: str):  # type: ignore[no-untyped-def]
    return next(r for r in rep.plan_indicators if r.indicator.id == ind_id)


def test_period_parsing() -> None:
    assert period_ns(PERIOD) == (START, END)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        period_ns("2026-09-01-2026-11-30")


def test_plan_indicators_by_hand(report: DistrictReport) -> None:
    got = {
        r.indicator.id: (r.value, r.numerator, r.denominator)
        for r in report.plan_indicators
        if r.value is not None
    }
    assert got == {
        # rooms typed smart_classroom/new_lab by rules only: suggestions, never counted
        "smart-classroom-new-lab-schools": (0, 0, 4),
        "bim-cim-schools": (3, 3, 4),  # every twin school has an IFC model; sz-x0 has none
        "iot-school-share": (50.0, 2, 4),  # s1 gw-A, s3 gw-B (+gw-X unbound) of the roster's 4
        # homerooms 6 + 5 + 3; multimedia: A-104 and C-103 by type (no equipment in these models)
        "multimedia-classroom-share": (pytest.approx(100 * 2 / 14), 2, 14),
        "experimental-schools": (0, 0, 4),
        "demonstration-schools": (0, 0, 4),
    }
    for nobody_entered in ("blended-teaching-coverage", "wireless-deployed-share"):  # no figure, not 0 %
        r = _ind(report, nobody_entered)
        assert r.value is None and r.lacking == ["sz-s1", "sz-s2", "sz-s3", "sz-x0"]
        assert r.judgement.status == "no_data"
    smart = _ind(report, "smart-classroom-new-lab-schools")
    assert smart.judgement.status == "contribution" and smart.judgement.on_track is None
    assert smart.judgement.text_zh == "贡献 0 / 400（全市2025年目标）"
    iot = _ind(report, "iot-school-share")
    assert iot.judgement.status == "no_target" and iot.indicator.target is None
    assert iot.indicator.baseline is not None and (
        iot.indicator.baseline.value,
        iot.indicator.baseline.year,
    ) == (60, 2020)
    ops = {o.item.id: (o.value, o.numerator, o.denominator) for o in report.operational}
    assert ops["teaching-room-coverage"] == (30.0, 6, 20)  # (4 + 0 + 2) live of (9 + 8 + 3)
    assert ops["gateway-schools"] == (2, 2, 4)


def test_every_count_names_what_made_it(report: DistrictReport) -> None:
    iot = {t["school"]: t["evidence"] for t in _ind(report, "iot-school-share").trace}
    assert iot == {"sz-s1": ["gw-A"], "sz-s2": [], "sz-s3": ["gw-B", "gw-X"], "sz-x0": []}
    bim = {t["school"]: t["counted"] for t in _ind(report, "bim-cim-schools").trace}
    assert bim == {"sz-s1": True, "sz-s2": True, "sz-s3": True, "sz-x0": False}
    s1 = {r.room_number: r for r in report.room_facts["sz-s1"]}
    assert s1["A-101"].suggestions and "smart_classroom" not in s1["A-101"].designations
    assert s1["B-101"].suggestions[0].startswith("新型实验室")


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
    assert s1.counts["homerooms"] == ["A-101", "A-102", "A-103", "A-104", "A-105", "A-106"]
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


def test_targets_are_judged_only_at_their_own_level(cfg: IndicatorsFile) -> None:
    ind = next(i for i in cfg.plan_indicators if i.id == "smart-classroom-new-lab-schools")
    city = judge(ind, 300, "city", 2023)
    assert (city.status, city.expected_now, city.on_track) == ("not_reached", None, None)  # no invented path
    assert judge(ind, 400, "city", 2023).status == "reached"
    met = judge(ind, 400, "city", 2025)
    assert (met.status, met.expected_now, met.on_track) == ("met", 400, True)
    assert judge(ind, 399, "city", 2026).status == "not_met"
    part = judge(ind, 3, "district", 2026)
    assert (part.status, part.on_track) == ("contribution", None) and "3 of 400" in part.text_en
    assert judge(ind, 3, "school", 2026).status == "contribution"
    share = next(i for i in cfg.plan_indicators if i.id == "iot-school-share")
    assert judge(share, 70, "city", 2026).status == "no_target"
    unmeasured = next(i for i in cfg.plan_indicators if i.measure is None)
    assert judge(unmeasured, None, "city", 2026).status == "not_measured"


def test_every_plan_indicator_cites_its_document(cfg: IndicatorsFile) -> None:
    table_rows = sorted(i.citation.row for i in cfg.plan_indicators if i.citation.row is not None)
    assert table_rows == list(range(1, 13))  # all 12 rows of the plan's indicator table
    # the quotes themselves: tests/indicators/test_citations.py (character sequence on the cited lines)
    for ind in cfg.plan_indicators:
        if ind.citation.row is not None:
            assert ind.type is not None and ind.target is not None and ind.target.year == 2025, ind.id
        else:
            assert ind.type is None and ind.target is None, f"{ind.id}: a 发展现状 statement has no target"


def test_xlsx_opens_and_holds_the_expected_cells(
    report: DistrictReport, cfg: IndicatorsFile, tmp_path: Path
) -> None:
    out = tmp_path / "report.xlsx"
    assert write_report(report, cfg, out) == [out]
    wb = load_workbook(out)
    assert wb.sheetnames == [
        "规划指标",
        "提示",
        "口径说明与依据",
        "来源冲突",
        "运行监测指标",
        "护眼",
        "护眼-教室明细",
        "护眼-检测记录",
        "附件1 区域简况",
        "附件2 第一示范学校",
        "附件2 第二学校",
        "附件2 第三学校",
        "附件2 无模型学校0",
        "学校明细",
        "房间属性",
        "环境达标率（上课时段）",
        "达标最差房间",
    ]
    ws = wb["规划指标"]
    assert (
        ws["A3"].value == "序号\nRow"
        and ws["B3"].value == "指标\nIndicator"
        and ws["C3"].value == "类型\nType"
    )
    assert ws.freeze_panes == "B4" and ws["A3"].font.bold
    rows = {r[1].value.split("\n")[0]: r for r in ws.iter_rows(min_row=4)}
    assert [r[0].value for r in ws.iter_rows(min_row=4)][:12] == list(range(1, 13))  # 序号 order
    smart = rows["具备智慧教室、新型实验室的学校数量"]
    assert smart[0].value == 2
    assert [c.value for c in smart[2:8]] == ["约束性", "所", "100（2020）", 0, "0/4", "400（2025，全市）"]
    assert smart[5].number_format == "0"  # a count: never "0.0"
    assert smart[8].value.startswith("贡献 0 / 400")
    iot = rows["校园中应用物联网的学校占比"]
    assert iot[2].value == "发展现状" and iot[5].value == 50 and iot[7].value == "规划未设目标"
    assert iot[5].number_format == '0.0"%"'
    defs = {r[1].value: r for r in wb["口径说明与依据"].iter_rows(min_row=3)}
    assert "l.302-307 序号2" in defs["具备智慧教室、新型实验室的学校数量"][3].value
    assert "智慧教室和新型实验室" in defs["具备智慧教室、新型实验室的学校数量"][2].value  # Chinese
    ws = wb["学校明细"]
    s1 = next(r for r in ws.iter_rows(min_row=3) if r[1].value == "sz-s1")
    assert s1[0].value == "第一示范学校" and s1[3].value == 10 and s1[6].value == 4
    assert s1[7].value == pytest.approx(4 / 9) and s1[7].number_format == "0.0%"
    form = {r[0].value: r for r in wb["附件2 无模型学校0"].iter_rows(min_row=4)}
    cls = form["班级数"][1]
    assert cls.value.startswith("【缺项 missing】") and "classes" in cls.value
    assert cls.fill.fgColor.rgb.endswith("FDE9E7")
    eye = next(r for r in wb["护眼"].iter_rows(min_row=3) if r[0].value == "第一示范学校")
    assert eye[2].value == "GB 7793-2010 5.2" and eye[8].value == pytest.approx(0.75)


def test_csv_json_html(report: DistrictReport, cfg: IndicatorsFile, tmp_path: Path) -> None:
    files = write_report(report, cfg, tmp_path / "r.csv")
    assert [f.name for f in files][:4] == ["r.csv", "r-problems.csv", "r-definitions.csv", "r-conflicts.csv"]
    with files[0].open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][1] == "指标 Indicator"
    smart = next(r for r in rows if r[1].startswith("具备智慧教室"))
    assert smart[5] == "0" and smart[2] == "约束性"

    (j,) = write_report(report, cfg, tmp_path / "r.json")
    data = json.loads(j.read_text(encoding="utf-8"))
    first = data["plan_indicators"][0]
    assert first["indicator"]["citation"]["row"] == 1 and first["judgement"]["status"] == "no_data"
    assert data["documents"]["sz-14fyp"]["file"] == "004_ff3da47212e0ef80.txt"
    assert (
        data["school_forms"][3]["values"]["classes"] is None
        and "班级数" in data["school_forms"][3]["missing"]
    )
    assert data["eyecare"][0]["compliant_time_share"] == pytest.approx(0.75)

    (h,) = write_report(report, cfg, tmp_path / "r.html")
    page = h.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert "第一示范学校" in page and "规划指标" in page and "44.4%" in page

    with pytest.raises(ValueError, match="unknown report format"):
        write_report(report, cfg, tmp_path / "r.pdf")


def test_a_twin_school_missing_from_the_roster_is_reported_not_counted(cfg: IndicatorsFile) -> None:
    short = roster(extra=0).model_copy(update={"schools": roster(extra=0).schools[:2]})
    rep = assemble(
        [], campuses(), short, ManualInputs(), cfg, load_forms(), period=PERIOD, year=2026, generated_at="-"
    )
    assert rep.problems == [
        "学校 sz-s3（第三学校）有BIM模型但不在学校名录中，未计入任何数字 | campus sz-s3 (第三学校) is loaded in the "
        "twin but not in the roster: left out of every figure"
    ]
    assert [
        t["school"] for t in next(r for r in rep.plan_indicators if r.indicator.id == "bim-cim-schools").trace
    ] == [
        "sz-s1",
        "sz-s2",
    ]


def test_without_a_roster_several_schools_are_flagged_as_a_partial_denominator(cfg: IndicatorsFile) -> None:
    cs = campuses()
    rep = assemble(
        [], cs, roster_of(cs), ManualInputs(), cfg, load_forms(), period=PERIOD, year=2026, generated_at="-"
    )
    assert rep.jurisdiction.level == "district"  # never judged against the city's targets
    assert rep.problems[0] == (
        "未提供学校名录：各比例只按已加载的 3 所学校计算 | no roster: every share is over the 3 loaded schools only, "
        "not every school of the jurisdiction (give --roster)"
    )
    assert rep.problems[1].startswith("学校名录未注明所在地区")  # no place: every region's rows, flagged
