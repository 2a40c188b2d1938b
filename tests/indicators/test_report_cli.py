"""`campus-twin report` end to end: generated IFC campus → load_twin → SQLite data → XLSX/JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from campus_twin.cli import main
from campus_twin.servers import InfluxDB
from contract.campus import CampusSpec
from contract.telemetry import SeriesKey
from store.base import StoredPoint
from store.influx_v1 import InfluxV1Store
from store.sqlite import SQLiteStore

SPEC = {
    "site": "t-cli",
    "name": "命令行测试学校",
    "buildings": [
        {
            "id": "A",
            "name": "教学楼A",
            "floors": 1,
            "rooms_per_floor": [
                {
                    "type": "smart_classroom",
                    "name_zh": "智慧教室",
                    "devices": [{"key": "air", "profile": "classroom-air-monitor"}],
                },
                {
                    "type": "new_lab",
                    "name_zh": "新型实验室",
                    "devices": [{"key": "co2", "profile": "renke-rs-co2-n01"}],
                },
                {"type": "general_classroom", "name_zh": "普通教室"},
            ],
        }
    ],
}
START = 1788710400 * 10**9  # 2026-09-07 00:00 +08:00
STEP = 600 * 10**9


def _points() -> list[StoredPoint]:
    return [
        StoredPoint(SeriesKey("t-cli", dev, "co2"), START + k * STEP, 800.0, "co2", "ppm", agent="gw-A")
        for dev in ("A-101-air", "A-102-co2")
        for k in range(144)
    ]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from twin.generator import generate_campus

    d = tmp_path_factory.mktemp("cli")
    files = generate_campus(CampusSpec.model_validate(SPEC), d)
    (d / "twin.yaml").write_text(
        "campuses:\n  - id: t-cli\n    name: 命令行测试学校\n    ifc: ["
        + ", ".join(f.path.name for f in files)
        + "]\n",
        encoding="utf-8",
    )
    (d / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    store = SQLiteStore(d / "s.db")
    store.write(_points())
    store.close()
    return d / "twin.yaml", d / "s.db"


ROSTER = """v: 1
jurisdiction: {level: district, name: 测试区}
provenance: {entered_by: test, entered_at: 2026-09-01, source: test roster}
schools:
  - {id: t-cli, name: 命令行测试学校, type: 初中, district: 测试区}
  - {id: t-none, name: 无模型学校, type: 小学, district: 测试区}
"""


def _roster(twin: Path) -> list[str]:
    return ["--roster", str(twin.parent / "roster.yaml")]


def test_report_xlsx_and_json_from_generated_campus(setup: tuple[Path, Path], tmp_path: Path) -> None:
    twin, db = setup
    base = [
        "report",
        "--twin",
        str(twin),
        "--sqlite",
        str(db),
        "--period",
        "2026-09-07..2026-09-07",
        *_roster(twin),
    ]
    assert main([*base, "--out", str(tmp_path / "r.json"), "--interval", "600"]) == 0
    got = _indicators(tmp_path / "r.json")
    assert got["smart-classroom-new-lab-schools"] == 0  # typed by rules, not designated
    assert got["bim-cim-schools"] == 1
    assert got["iot-school-share"] == 50.0  # 1 of the roster's 2 schools
    assert got["teaching-room-coverage"] == pytest.approx(200 / 3)
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    (school,) = data["schools"]
    assert school["instrumented_rooms"] == ["A-101", "A-102"]
    assert (school["received"], school["expected"]) == (288, 288)

    assert main([*base, "--out", str(tmp_path / "r.xlsx")]) == 0
    wb = load_workbook(tmp_path / "r.xlsx")
    for sheet in ("规划指标", "口径说明与依据", "来源冲突", "运行监测指标", "护眼", "附件1 区域简况"):
        assert sheet in wb.sheetnames
    row = next(r for r in wb["学校明细"].iter_rows(min_row=3) if r[1].value == "t-cli")
    assert row[0].value == "命令行测试学校" and row[4].value == 3 and row[6].value == 2
    # each school's 附件2 is its own sheet, one field per row as printed
    assert [n for n in wb.sheetnames if n.startswith("附件2")] == ["附件2 命令行测试学校", "附件2 无模型学校"]
    form = {r[0].value: r[1].value for r in wb["附件2 无模型学校"].iter_rows(min_row=4)}
    assert form["学校规范名称"] == "无模型学校" and str(form["班级数"]).startswith("【缺项 missing】")


def test_without_a_roster_the_shares_say_they_cover_the_loaded_schools_only(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    twin, db = setup
    base = ["report", "--twin", str(twin), "--sqlite", str(db), "--period", "2026-09-07..2026-09-07"]
    assert main([*base, "--out", str(tmp_path / "r.json"), "--interval", "600"]) == 0
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["jurisdiction"]["level"] == "school"  # one campus: its contribution, never a verdict
    smart = next(r for r in data["plan_indicators"] if r["indicator"]["id"] == "bim-cim-schools")
    assert smart["judgement"]["status"] == "contribution"
    assert _indicators(tmp_path / "r.json")["iot-school-share"] == 100.0  # 1 of the 1 loaded school
    capsys.readouterr()


def test_report_rejects_bad_arguments(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    twin, db = setup
    base = ["report", "--twin", str(twin), "--sqlite", str(db), *_roster(twin)]
    assert main([*base, "--period", "2026-09-07..2026-09-07", "--out", str(tmp_path / "r.pdf")]) == 2
    assert "unknown format" in capsys.readouterr().err
    assert main([*base, "--period", "2026-09-07", "--out", str(tmp_path / "r.csv")]) == 2
    assert "YYYY-MM-DD..YYYY-MM-DD" in capsys.readouterr().err


def _indicators(path: Path) -> dict[str, float]:
    data = json.loads(path.read_text(encoding="utf-8"))
    got = {i["indicator"]["id"]: i["value"] for i in data["plan_indicators"]}
    return got | {o["item"]["id"]: o["value"] for o in data["operational"]}


def test_store_config_selects_sqlite_relative_to_the_config(setup: tuple[Path, Path], tmp_path: Path) -> None:
    twin, db = setup
    cfg = db.parent / "ingest.yaml"  # the ingest config: a relative store path is next to it
    cfg.write_text(f"store: {{type: sqlite, path: {db.name}}}\n", encoding="utf-8")
    base = [
        "report",
        "--twin",
        str(twin),
        "--period",
        "2026-09-07..2026-09-07",
        "--interval",
        "600",
        *_roster(twin),
    ]
    assert main([*base, "--store-config", str(cfg), "--out", str(tmp_path / "c.json")]) == 0
    assert main([*base, "--sqlite", str(db), "--out", str(tmp_path / "s.json")]) == 0
    assert _indicators(tmp_path / "c.json") == _indicators(tmp_path / "s.json")


def test_store_config_selects_influxdb(
    setup: tuple[Path, Path], influxdb: InfluxDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same readings in a real InfluxDB 1.x give the same report as from SQLite."""
    twin, db = setup
    writer = InfluxV1Store(influxdb.url, "campus_report_cli", create_database=True)
    try:
        writer.write(_points())
    finally:
        writer.close()
    cfg = tmp_path / "ingest.yaml"
    cfg.write_text(
        f"store:\n  type: influxdb\n  url: {influxdb.url}\n  database: campus_report_cli\n"
        "  password: {env: CT_TEST_INFLUX_PASSWORD}\n",
        encoding="utf-8",
    )
    base = [
        "report",
        "--twin",
        str(twin),
        "--period",
        "2026-09-07..2026-09-07",
        "--interval",
        "600",
        *_roster(twin),
    ]
    monkeypatch.delenv("CT_TEST_INFLUX_PASSWORD", raising=False)
    assert main([*base, "--store-config", str(cfg), "--out", str(tmp_path / "i.json")]) == 2
    monkeypatch.setenv("CT_TEST_INFLUX_PASSWORD", "unused-by-an-open-server")
    assert main([*base, "--store-config", str(cfg), "--out", str(tmp_path / "i.json")]) == 0
    assert main([*base, "--sqlite", str(db), "--out", str(tmp_path / "s.json")]) == 0
    got = _indicators(tmp_path / "i.json")
    assert got == _indicators(tmp_path / "s.json")
    assert got["bim-cim-schools"] == 1 and got["iot-school-share"] == 50.0


def test_store_config_errors(
    setup: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    twin, db = setup
    base = [
        "report",
        "--twin",
        str(twin),
        "--period",
        "2026-09-07..2026-09-07",
        "--out",
        str(tmp_path / "r.json"),
        *_roster(twin),
    ]
    assert main([*base, "--store-config", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: no such file" in capsys.readouterr().err
    cfg = tmp_path / "ingest.yaml"
    cfg.write_text("store:\n  type: sqlite\n  path: missing.db\n", encoding="utf-8")
    assert main([*base, "--store-config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "store (sqlite): no such file" in err and "missing.db" in err
    assert not (tmp_path / "missing.db").exists()  # not created empty
    cfg.write_text("store:\n  type: influxdb\n  databse: x\n", encoding="utf-8")
    assert main([*base, "--store-config", str(cfg)]) == 2
    err = capsys.readouterr().err  # the ingest config loader names the file and the field
    assert str(cfg) in err and "databse: unknown field" in err
    cfg.write_text(
        "store:\n  type: influxdb2\n  org: o\n  bucket: b\n  token: {env: CT_TEST_NO_TOKEN}\n",
        encoding="utf-8",
    )
    monkeypatch.delenv("CT_TEST_NO_TOKEN", raising=False)
    assert main([*base, "--store-config", str(cfg)]) == 2
    assert "environment variable CT_TEST_NO_TOKEN is not set" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one store only
        main([*base, "--sqlite", str(db), "--store-config", str(cfg)])
