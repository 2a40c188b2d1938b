"""Indicators of the plans and forms as data (indicators.yaml, forms.yaml) with provenance, the
roster and manual inputs, room facts, their computation and the report writers (docs/indicators.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contract.config_renames import load_renamed
from contract.yamlio import ConfigError, load_yaml, validate_doc
from twin.indicators.schema import Document, IndicatorsFile, PlanIndicator

DEFAULT_INDICATORS = Path(__file__).with_name("indicators.yaml")

__all__ = ["DEFAULT_INDICATORS", "IndicatorsFile", "PlanSet", "add_plan_set", "load_indicators"]


def load_indicators(path: str | Path | None = None) -> IndicatorsFile:
    """The indicator definitions; a criterion still keyed `kind:` (renamed `type:`) is read with
    a deprecation warning (contract/config_renames.yaml)."""
    return load_renamed("indicators", IndicatorsFile, path or DEFAULT_INDICATORS)


class PlanSet(BaseModel):
    """Another region's indicator table as data (`campus-twin report --plan FILE`): its
    documents (each with its `region`) and plan indicators, in the indicators.yaml format."""

    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = 1
    documents: dict[str, Document] = Field(min_length=1)
    plan_indicators: list[PlanIndicator] = Field(min_length=1)


def add_plan_set(cfg: IndicatorsFile, path: str | Path) -> IndicatorsFile:
    """`cfg` with the plan set of `path` added; the whole is validated again (unknown documents,
    designations, duplicate ids), errors name `file:line:col`."""
    name = str(path)
    doc = load_yaml(name)
    if doc is None:
        raise ConfigError(name, [f"{name}: file is empty"])
    extra = validate_doc(PlanSet, doc, name)
    merged = cfg.model_dump()
    merged["documents"] = {**merged["documents"], **{k: d.model_dump() for k, d in extra.documents.items()}}
    merged["plan_indicators"] += [i.model_dump() for i in extra.plan_indicators]
    try:
        return IndicatorsFile.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(name, [f"{name}: {e['msg']}" for e in exc.errors()]) from None
