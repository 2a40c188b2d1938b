"""docs/indicators.md maps every indicator and every form field (so it cannot drift from the YAML)."""

from __future__ import annotations

from pathlib import Path

from twin.indicators import load_indicators
from twin.indicators.forms import load_forms

DOC = Path(__file__).resolve().parents[2] / "docs" / "indicators.md"


def test_every_indicator_and_form_field_is_documented_with_its_source() -> None:
    text = DOC.read_text(encoding="utf-8")
    cfg, forms = load_indicators(), load_forms()
    for ind in cfg.plan_indicators:
        row = next(line for line in text.splitlines() if f"`{ind.id}`" in line)
        assert ind.citation.wording in row, ind.id
        assert f"l.{ind.citation.lines}" in row, ind.id
        if ind.citation.row is not None:
            assert f"序号{ind.citation.row}" in row, ind.id
    for op in cfg.operational:
        assert f"`{op.id}`" in text, op.id
    for f in [*forms.school_form.fields, *forms.district_form.columns, *forms.district_form.fields]:
        label = f.label.split(" ")[0].split("（万元）")[0]
        rows = [line for line in text.splitlines() if label in line and "| 001 l." in line]
        assert rows, f"{f.id}: no table row with {label!r} and its 001 line"
        assert any(f.origin in row for row in rows), f"{f.id}: origin {f.origin} not stated"
