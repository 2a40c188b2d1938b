"""`campus-twin report` end to end: generated IFC campus → load_twin → SQLite data → XLSX/JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from campus_twin.cli import main
from contract.campus import CampusSpec
from contract.telemetry import SeriesKey
from ingest.stores.base import StoredPoint
from ingest.stores.sqlite import SQLiteStore

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
    store = SQLiteStore(d / "s.db")
    store.write(
        [
            StoredPoint(SeriesKey("t-cli", dev, "co2"), START + k * STEP, 800.0, "co2", "ppm", agent="gw-A")
            for dev in ("A-101-air", "A-102-co2")
            for k in range(144)
        ]
    )
    store.close()
    return d / "twin.yaml", d / "s.db"


def test_report_xlsx_and_json_from_generated_campus(setup: tuple[Path, Path], tmp_path: Path) -> None:
    twin, db = setup
    base = ["report", "--twin", str(twin), "--sqlite", str(db), "--period", "2026-09-07..2026-09-07"]
    assert main([*base, "--out", str(tmp_path / "r.json"), "--interval", "600"]) == 0
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    got = {i["indicator"]["id"]: i["value"] for i in data["indicators"]}
    assert got["smart-classroom-new-lab-schools"] == 1
    assert got["bim-cim-schools"] == 1  # 2 of 3 teaching rooms bound through IfcSensor, data received
    assert got["iot-school-share"] == 100.0
    assert got["teaching-room-coverage"] == pytest.approx(200 / 3)
    (school,) = data["schools"]
    assert school["instrumented_rooms"] == ["A-101", "A-102"]
    assert (school["received"], school["expected"]) == (288, 288)

    assert main([*base, "--out", str(tmp_path / "r.xlsx")]) == 0
    ws = load_workbook(tmp_path / "r.xlsx")["学校明细"]
    row = next(r for r in ws.iter_rows(min_row=3) if r[1].value == "t-cli")
    assert row[0].value == "命令行测试学校" and row[4].value == 3 and row[6].value == 2


def test_report_rejects_bad_arguments(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    twin, db = setup
    base = ["report", "--twin", str(twin), "--sqlite", str(db)]
    assert main([*base, "--period", "2026-09-07..2026-09-07", "--out", str(tmp_path / "r.pdf")]) == 2
    assert "unknown format" in capsys.readouterr().err
    assert main([*base, "--period", "2026-09-07", "--out", str(tmp_path / "r.csv")]) == 2
    assert "YYYY-MM-DD..YYYY-MM-DD" in capsys.readouterr().err
