"""Data-driven report cases: tests/cases/indicators/<case>/ → `campus-twin report` → expected.

Each case holds `campus.yaml` (campus specs generated to IFC by twin.generator — none: no
`--twin`; the readings the store holds — `store: false`: no store at all; the period), `roster.yaml`, `inputs.yaml` and/or `inputs*.csv`, and either `expected.json` (a
digest of report.json: every plan indicator with its citation and judgement, operational
figures, room counts, both form sheets, the 护眼 section) or `expected_error.txt` (lines the
error output must contain: file, line and field of the bad input; every problem line is
Chinese first with English after " | " and says how to fix it). Regenerate an expected
digest after a deliberate change with CT_UPDATE_CASES=1 and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from campus_twin.cli import main
from contract.campus import CampusSpec
from contract.telemetry import CANONICAL_UNITS, SeriesKey
from contract.yamlio import load_yaml, to_plain
from store.base import StoredPoint
from store.sqlite import SQLiteStore
from tests.support.cases import load_cases
from twin.standards import intervals as iv
from twin.standards import occupancy

CASE_DIRS = [c.dir for c in load_cases("indicators")]
PLANS = Path(__file__).resolve().parents[3] / "shared" / "plans"
CST = timezone(timedelta(hours=8))
NS = 10**9


def _class_time(start: int, end: int) -> iv.Intervals:
    """Class time of a homeroom, through whichever timetable API the standards engine has."""
    tt: Any = occupancy.load_timetable()  # Timetable on main, SchoolTime in the reworked engine
    new_api = getattr(occupancy, "class_intervals", None)
    if new_api is not None:
        return cast(iv.Intervals, new_api(tt, start, end, "general_classroom"))
    return cast(iv.Intervals, tt.intervals(start, end))


def _readings(case: dict[str, Any]) -> list[StoredPoint]:
    d0, d1 = (datetime.fromisoformat(x.strip()) for x in case["period"].split(".."))
    start = int(d0.replace(tzinfo=CST).timestamp()) * NS
    end = int((d1 + timedelta(days=1)).replace(tzinfo=CST).timestamp()) * NS
    step = int(case["interval_s"]) * NS
    ts = np.arange(start, end, step, dtype=np.int64)
    lessons = iv.contains(_class_time(start, end), ts)
    pts = []
    for r in case.get("readings", []):
        for t, in_class in zip(ts.tolist(), lessons.tolist(), strict=True):
            v = r.get("value_in_class", r["value"]) if in_class else r["value"]
            key = SeriesKey(r["site"], r["device"], r["point"])
            pts.append(
                StoredPoint(key, t, float(v), r["quantity"], CANONICAL_UNITS[r["quantity"]], agent=r["agent"])
            )
    return pts


def _src(text: str) -> str:
    """A source without the run's temporary IFC directory."""
    return re.sub(r"/\S*/([^/\s,]+\.ifc)", r"\1", text)


def _r(v: Any) -> Any:
    return round(v, 4) if isinstance(v, float) else v


def digest(d: dict[str, Any]) -> dict[str, Any]:
    """What a case pins of report.json (not timestamps or per-reading traces)."""
    docs = d["documents"]
    plan = {}
    for r in d["plan_indicators"]:
        ind, c = r["indicator"], r["indicator"]["citation"]
        plan[ind["id"]] = {
            "name_zh": ind["name_zh"],
            "type": ind["type"],
            "citation": f"{docs[c['doc']]['file']} l.{c['lines']}" + (f" 序号{c['row']}" if c["row"] else ""),
            "baseline": ind["baseline"] and {k: ind["baseline"][k] for k in ("value", "year", "comparator")},
            "target": ind["target"],
            "origin": ind["origin"],
            "value": _r(r["value"]),
            "counted": f"{r['numerator']}/{r['denominator']}" if r["numerator"] is not None else None,
            "judgement": r["judgement"]["status"],
            "judgement_zh": r["judgement"]["text_zh"],
            "expected_now": r["judgement"]["expected_now"],
            "counted_schools": sorted(t["school"] for t in r["trace"] if t.get("counted")),
            "not_entered": r["lacking"],
        }
    return {
        "jurisdiction": d["jurisdiction"],
        "plan_indicators": plan,
        "operational": {
            o["item"]["id"]: [_r(o["value"]), o["numerator"], o["denominator"]] for o in d["operational"]
        },
        "room_counts": {s["campus_id"]: s["counts"] for s in d["schools"]},
        "suggestions": {
            school: {r["room_number"]: r["suggestions"] for r in rooms if r["suggestions"]}
            for school, rooms in d["room_facts"].items()
        },
        "designated": {
            school: {r["room_number"]: sorted(r["designations"]) for r in rooms if r["designations"]}
            for school, rooms in d["room_facts"].items()
        },
        "school_forms": {
            s["school"]: {
                "values": {k: _r(v) for k, v in s["values"].items()},
                "origins": {f["id"]: f["origin"] for f in s["fields"]},
                "missing": s["missing"],
            }
            for s in d["school_forms"]
        },
        "district_form": {
            "rows": [{k: _r(v) for k, v in row.items()} for row in d["district_form"]["rows"]],
            "fields": {f["id"]: _r(f["value"]) for f in d["district_form"]["fields"]},
            "missing": d["district_form"]["missing"],
        },
        "eyecare": {
            e["school"]: {
                "clause": f"{e['standard']} {e['clause']}".strip(),
                "classrooms": [
                    e["classrooms_evaluated"],
                    e["classrooms_compliant"],
                    e["classrooms_non_compliant"],
                ],
                "compliant_time_share": _r(e["compliant_time_share"]),
                "compliant_classroom_share": _r(e["compliant_classroom_share"]),
                "hours_below_limit": _r(e["hours_below_limit"]),
                "class_periods_below_of_judged": [e["periods_below_limit"], e["periods_judged"]],
                "rooms": {
                    r["room"]: [r["status"], _r(r["compliant_share"]), r["worst_lux"]] for r in e["rooms"]
                },
                "surveys": [
                    [s["room"], s["item"], s["clause"], s["value"], s["meets"]] for s in e["surveys"]
                ],
                "surveys_missing": e["surveys_missing"],
            }
            for e in d["eyecare"]
        },
        "conflicts": [[c["school"], c["field"], c["entered"], c["bim"], c["chosen"]] for c in d["conflicts"]],
        "school_form_sources": {
            s["school"]: {f["id"]: _src(f["source"]) for f in s["fields"] if f["origin"] != "roster"}
            for s in d["school_forms"]
        },
        "district_sources": {f["id"]: [f["origin"], _src(f["source"])] for f in d["district_form"]["fields"]},
        "problems": d["problems"],
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """IFC per distinct campus spec, generated once for all cases."""
    from twin.generator import generate_campus

    out: dict[str, Path] = {}
    base = tmp_path_factory.mktemp("ifc")
    for case in CASE_DIRS:
        spec_file = case / "campus.yaml"
        if not spec_file.is_file():
            continue
        for spec in to_plain(load_yaml(spec_file)).get("campuses") or []:
            key = json.dumps(spec, sort_keys=True, ensure_ascii=False)
            if key not in out:
                d = base / f"c{len(out)}"
                generate_campus(CampusSpec.model_validate(spec), d)
                out[key] = d
    return out


@pytest.mark.parametrize("case_dir", CASE_DIRS, ids=lambda p: p.name)
def test_case(
    case_dir: Path, generated: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = to_plain(load_yaml(case_dir / "campus.yaml"))
    argv = ["report", "--period", case["period"], "--interval", str(case["interval_s"])]
    argv += ["--roster", str(case_dir / "roster.yaml"), "--out", str(tmp_path / "report.json")]
    if case.get("campuses"):
        lines = ["campuses:"]
        for spec in case["campuses"]:
            d = generated[json.dumps(spec, sort_keys=True, ensure_ascii=False)]
            ifc = sorted(str(p) for p in d.glob("*.ifc"))
            lines += [f"  - id: {spec['site']}", f"    name: {spec['name']}", f"    ifc: {json.dumps(ifc)}"]
        (tmp_path / "twin.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        argv += ["--twin", str(tmp_path / "twin.yaml")]
    if case.get("store", True):
        store = SQLiteStore(tmp_path / "s.db")
        store.write(_readings(case))
        store.close()
        argv += ["--sqlite", str(tmp_path / "s.db")]
    out = tmp_path / "report.json"
    for f in [case_dir / "inputs.yaml", *sorted(case_dir.glob("inputs*.csv"))]:
        if f.is_file():
            argv += ["--inputs", str(f)]
    for f in sorted(case_dir.glob("plan*.yaml")):  # another region's table, checked against ../shared/plans
        argv += ["--plan", str(f), "--plans-dir", str(PLANS)]
    if "year" in case:
        argv += ["--year", str(case["year"])]
    rc = main(argv)
    err = capsys.readouterr().err
    expected_error = case_dir / "expected_error.txt"
    if expected_error.is_file():
        assert rc == 2, "a bad input file must fail the command"
        assert "Traceback" not in err
        for line in expected_error.read_text(encoding="utf-8").splitlines():
            assert line.replace("{case}", str(case_dir)) in err
        for line in err.splitlines()[1:]:  # after "configuration error:" (a plan set: its header line)
            zh, _, en = line.partition(" | ")
            assert re.search("[\u4e00-\u9fff]", zh) and en and "改正" in zh and "Fix:" in en, line
        return
    assert rc == 0, err
    got = digest(json.loads(out.read_text(encoding="utf-8")))
    expected_file = case_dir / "expected.json"
    if os.environ.get("CT_UPDATE_CASES") == "1":
        expected_file.write_text(json.dumps(got, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    assert got == json.loads(expected_file.read_text(encoding="utf-8"))
