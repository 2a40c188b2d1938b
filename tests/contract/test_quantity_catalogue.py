"""The quantity catalogue is the only table of quantities, units and labels in the code base.

`test_no_second_table` parses every module outside tests/ and fails naming the file and line of
a dict literal keyed by three or more quantity names, or holding three or more of the
catalogue's units or labels: that is a second copy of the catalogue, which is how the four
tables of issue 16 drifted apart. Derive views from `contract.quantities.catalogue()` instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from contract.quantities import CATALOGUE_FILE, Catalogue, catalogue, check_quantity, round_to
from contract.yamlio import ConfigError, load_model

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {"tests", ".venv", "node_modules", ".git", "build", "dist"}
# Dicts keyed by quantity that hold *values*, not knowledge about quantities: file → why.
ALLOWED = {
    "simulators/classroom_model.py": "the physical model's current values per quantity",
    "bench/report.py": "synthetic series levels and swings for a benchmark",
    "bench/api_latency.py": "synthetic series base values for a benchmark",
    "bench/standards.py": "synthetic series levels for a benchmark",
    "bench/mqtt_decode.py": "synthetic sensor values for a benchmark",
}


def _modules() -> list[Path]:
    return sorted(
        p
        for p in ROOT.rglob("*.py")
        if not SKIP_DIRS & set(p.relative_to(ROOT).parts[:-1])
        and p.relative_to(ROOT).as_posix() not in ALLOWED
    )


def _strings(nodes: list[ast.expr | None]) -> list[str]:
    return [n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _value_strings(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [s for e in node.elts for s in _value_strings(e)]
    return []


def second_tables(path: Path, source: str) -> list[str]:
    cat = catalogue()
    names = set(cat.quantities)
    units = {s.unit for s in cat.quantities.values()} - {"1", ""}
    labels = {s.label.zh for s in cat.quantities.values()}
    found = []
    for node in ast.walk(ast.parse(source, str(path))):
        if not isinstance(node, ast.Dict):
            continue
        keyed = [k for k in _strings(node.keys) if k in names]
        values = [s for v in node.values for s in _value_strings(v)]
        unit_values = [v for v in values if v in units]
        label_values = [v for v in values if v in labels]
        if len(keyed) >= 3 or len(unit_values) >= 3 or len(label_values) >= 3:
            what = keyed or unit_values or label_values
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: a table of {', '.join(what[:4])}…")
    return found


@pytest.mark.slow  # scans every file of the repo
def test_no_second_table_of_units_labels_or_quantities() -> None:
    offenders = [hit for p in _modules() for hit in second_tables(p, p.read_text(encoding="utf-8"))]
    assert not offenders, (
        "quantity knowledge belongs in contract/quantities.yaml; derive from catalogue():\n"
        + "\n".join(offenders)
    )


def test_the_grep_names_a_file_that_adds_a_table(tmp_path: Path) -> None:
    bad = ROOT / "api" / "bad_labels.py"
    src = 'LABELS = {"temperature": ("温度", "T"), "co2": ("二氧化碳", "CO2"), "noise": ("噪声", "N")}\n'
    assert second_tables(bad, src) == ["api/bad_labels.py:1: a table of temperature, co2, noise…"]
    units = 'U = {"t": "°C", "h": "%RH", "c": "ppm"}\n'
    assert second_tables(bad, units) == ["api/bad_labels.py:1: a table of °C, %RH, ppm…"]


def test_catalogue_covers_every_quantity_completely() -> None:
    cat = catalogue()
    assert {"co2", "co2_equivalent", "presence", "occupancy"} <= set(cat.quantities)
    for q, spec in cat.quantities.items():
        assert spec.label.zh and spec.label.en, q
        assert spec.resolution > 0, q
    assert cat.spec("occupancy").kind == "count" and cat.spec("presence").kind == "boolean"
    assert cat.spec("co2").ifc == "CO2SENSOR" and "GB/T 18883-2022" in cat.spec("co2").standards


def test_unknown_quantity_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown quantity 'warmth'; known: co2, co2_equivalent, "):
        check_quantity("warmth")


def test_bad_catalogue_edit_names_file_line_and_field(tmp_path: Path) -> None:
    text = CATALOGUE_FILE.read_text(encoding="utf-8").replace("resolution: 0.1\n", "resolution: -1\n", 1)
    bad = tmp_path / "quantities.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"quantities.yaml:\d+:\d+: field quantities.temperature.resolution"
    ):
        load_model(Catalogue, bad)


@pytest.mark.parametrize(
    ("value", "resolution", "expected"),
    [
        (61.400000000000006, 0.1, 61.4),
        (-5.300000000000001, 0.1, -5.3),
        (0.0801, 0.001, 0.08),
        (812.4, 1, 812.0),
    ],
)
def test_round_to_resolution_removes_float_noise(value: float, resolution: float, expected: float) -> None:
    assert round_to(value, resolution) == expected
    assert repr(round_to(value, resolution)) == repr(expected)


def _rules(node: object) -> list[dict[str, object]]:
    """Every mapping with a `quantity` and a `standard` in a standards file, wherever it sits."""
    if isinstance(node, dict):
        own = [node] if "quantity" in node and "standard" in node else []
        return own + [r for v in node.values() for r in _rules(v)]
    if isinstance(node, list):
        return [r for v in node for r in _rules(v)]
    return []


def test_catalogue_names_the_standards_that_set_limits_on_each_quantity() -> None:
    from contract.yamlio import load_yaml, to_plain

    path = ROOT / "twin" / "standards" / "standards.yaml"
    missing = sorted(
        {
            f"{r['quantity']}: {r['standard']}"
            for r in _rules(to_plain(load_yaml(path)))
            if r["standard"] not in catalogue().spec(str(r["quantity"])).standards
        }
    )
    assert not missing, (
        f"{path.relative_to(ROOT)} uses standards contract/quantities.yaml does not list: {missing}"
    )


def test_breach_value_never_rounds_onto_its_limit() -> None:
    """A 21.96 °C reading under a 22 °C floor must not read "22.0 < 22" in a reason."""
    from contract.quantities import format_against

    assert format_against("temperature", 21.96, 22.0) == "21.96"
    assert format_against("co2", 1322.4, 1000.0) == "1322"
    assert float(format_against("hcho", 0.0801, 0.08)) != 0.08
    assert format_against("temperature", 22.0, 22.0) == "22.0"
