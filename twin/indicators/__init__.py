"""Indicators of the plans and forms as data (indicators.yaml, forms.yaml) with provenance, the
roster and manual inputs, room facts, their computation and the report writers (docs/indicators.md)."""

from __future__ import annotations

from pathlib import Path

from contract.yamlio import load_model
from twin.indicators.schema import IndicatorsFile

DEFAULT_INDICATORS = Path(__file__).with_name("indicators.yaml")

__all__ = ["DEFAULT_INDICATORS", "IndicatorsFile", "load_indicators"]


def load_indicators(path: str | Path | None = None) -> IndicatorsFile:
    return load_model(IndicatorsFile, path or DEFAULT_INDICATORS)
