"""docs/indicators.md has one row per plan indicator and form field (wording, source, origin,
Chinese definition, level, region), so it cannot drift from the YAML."""

from __future__ import annotations

from pathlib import Path

from twin.indicators import load_indicators
from twin.indicators.forms import load_forms

DOC = Path(__file__).resolve().parents[2] / "docs" / "indicators.md"


def _row(text: str, key: str) -> str:
    rows = [line for line in text.splitlines() if line.startswith(f"| `{key}` |")]
    assert len(rows) == 1, f"{key}: {len(rows)} rows"
    return rows[0]


def test_every_indicator_has_its_row() -> None:
    text = DOC.read_text(encoding="utf-8")
    cfg = load_indicators()
    for ind in cfg.plan_indicators:
        row = _row(text, ind.id)
        c = ind.citation
        assert c.wording in row and f"l.{c.lines}" in row, ind.id
        assert (f"序号{c.row}" in row) == (c.row is not None), ind.id
        assert cfg.documents[c.doc].region in row, ind.id
        assert (ind.definition_note or "按规划原文") in row, ind.id  # the Chinese definition
        if ind.target is not None:
            assert f"（{ind.target.level}）" in row, ind.id
        assert (ind.origin or "not held") in row.replace("BIM + entered", "BIM+entered"), ind.id
    for op in cfg.operational:
        assert f"`{op.id}`" in text, op.id


def test_every_form_field_has_its_row() -> None:
    text = DOC.read_text(encoding="utf-8")
    forms = load_forms()
    fields = [("school", f) for f in forms.school_form.fields]
    df = forms.district_form
    fields += [("district", f) for f in [*df.header, *df.columns, *df.fields]]
    for level, f in fields:
        row = _row(text, f"{level}.{f.id}")
        assert f.label in row and f"001 l.{f.lines}" in row and f"| {f.origin} |" in row, f.id
        assert f.definition_zh and f.definition_zh in row and f"| {level} |" in row, f.id
