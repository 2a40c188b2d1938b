"""Indicators of the plans and forms as data (indicators.yaml, forms.yaml) with provenance, the
roster and manual inputs, room facts, their computation and the report writers (docs/indicators.md)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contract.yamlio import ConfigError, format_loc, load_yaml, locate, validate_doc
from twin.indicators.schema import Document, IndicatorsFile, PlanIndicator

DEFAULT_INDICATORS = Path(__file__).with_name("indicators.yaml")

__all__ = ["DEFAULT_INDICATORS", "IndicatorsFile", "PlanSet", "add_plan_set", "load_indicators"]


def load_indicators(path: str | Path | None = None) -> IndicatorsFile:
    """The indicator definitions; a criterion still keyed `kind:` is refused where it stands."""
    name = str(path or DEFAULT_INDICATORS)
    doc = load_yaml(name)
    if doc is None:
        raise ConfigError(name, [f"{name}: file is empty"])
    old = [
        f"{name}:{pos[0]}:{pos[1]}: field {format_loc(loc)}: `kind:` was renamed `type:` "
        "(docs/configuration.md, discriminator key); rename the key, the value stays"
        for loc in old_kind_keys(doc)
        for pos in [locate(doc, loc) or (0, 0)]
    ]
    if old:
        raise ConfigError(name, old)
    return validate_doc(IndicatorsFile, doc, name)


def old_kind_keys(doc: Any) -> Iterator[Sequence[str | int]]:
    """Where a measure, its `where:` condition or an operational figure still says `kind:`."""
    if not isinstance(doc, dict):
        return
    for i, ind in enumerate(_items(doc.get("plan_indicators"))):
        measure = ind.get("measure")
        if isinstance(measure, dict):
            if "kind" in measure:
                yield ("plan_indicators", i, "measure", "kind")
            where = measure.get("where")
            if isinstance(where, dict) and "kind" in where:
                yield ("plan_indicators", i, "measure", "where", "kind")
    for i, op in enumerate(_items(doc.get("operational"))):
        if "kind" in op:
            yield ("operational", i, "kind")


def _items(seq: Any) -> list[dict[str, Any]]:
    return [x if isinstance(x, dict) else {} for x in seq] if isinstance(seq, list) else []


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
