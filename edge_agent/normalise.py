"""Sample (device's unit) → contract Reading (canonical unit, quality), and report-on-change.

Pure apart from the change filter's memory of what it last sent. A sample that cannot become
a valid Reading (unknown unit, bad id) is returned as a reject with the reason, never dropped.
Units, the plausible range (when the source gives none) and the resolution values are rounded
to come from the quantity catalogue (contract/quantities.yaml).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from pydantic import ValidationError

from contract.quantities import catalogue, decimals_for
from contract.telemetry import TS_MAX_NS, TS_MIN_NS, Quality, Reading, RowTemplate, encode_row_values
from edge_agent.samples import Sample
from edge_agent.units import Linear, UnitConverter, UnitError, default_converter


@dataclass(frozen=True, slots=True)
class Reject:
    sample: Sample
    reason: str


def _fmt(v: float) -> str:
    return f"{v:.6g}"


@dataclass(frozen=True, slots=True)
class _Rule:
    """Everything `convert` needs for one (quantity, source unit, step, range) combination,
    looked up once: a poller sends the same combination for a point every poll."""

    f: Linear
    unit: str
    decimals: int
    lo: float | None
    hi: float | None


@lru_cache(maxsize=4096)
def _rule(
    units: UnitConverter,
    quantity: str,
    unit: str,
    resolution: float | None,
    valid_min: float | None,
    valid_max: float | None,
) -> _Rule:
    f = units.converter(quantity, unit)  # UnitError: not cached, raised every time
    spec = catalogue().spec(quantity)
    # the source's step converted, else the catalogue's: never more digits than measured
    step = abs(resolution * f.scale) if resolution is not None else spec.resolution
    step = min(step, spec.resolution) if step > 0 else spec.resolution
    if valid_min is None and valid_max is None:
        lo, hi = spec.valid_min, spec.valid_max
    else:
        lo = f(valid_min) if valid_min is not None else None
        hi = f(valid_max) if valid_max is not None else None
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return _Rule(f, spec.unit, decimals_for(step), lo, hi)


def convert(s: Sample, units: UnitConverter) -> tuple[float | None, str, Quality, str | None] | str:
    """Value, canonical unit, quality and reason of one sample, or the reason it cannot become a
    reading. Out-of-range values keep their value with quality uncertain. Pure."""
    try:
        rule = _rule(units, s.quantity, s.unit, s.resolution, s.valid_min, s.valid_max)
    except UnitError as exc:
        return str(exc)
    return _apply(rule, s.value, s.quality, s.reason)


def _apply(
    rule: _Rule, value: float | None, quality: Quality, reason: str | None
) -> tuple[float | None, str, Quality, str | None]:
    """`convert` with the rule already looked up (the hot path looks it up once per point)."""
    if value is not None and not math.isfinite(value):
        value, quality, reason = None, Quality.BAD, f"non-finite value {value!r} from device"
    if value is not None:
        # contract.quantities.round_to with the decimals looked up once (round() rounds the
        # exact binary value like the formatted string did); no "-0.0" on the wire
        value = round(rule.f(value), rule.decimals) or 0.0
        if not math.isfinite(value):
            value, quality, reason = None, Quality.BAD, "value out of float range after unit conversion"
        lo, hi = rule.lo, rule.hi
        if (
            value is not None
            and quality is Quality.GOOD
            and ((lo is not None and value < lo) or (hi is not None and value > hi))
        ):
            quality = Quality.UNCERTAIN
            rng = f"{_fmt(lo) if lo is not None else '-inf'}..{_fmt(hi) if hi is not None else 'inf'}"
            reason = f"value {_fmt(value)} {rule.unit} outside valid range {rng} {rule.unit}"
    elif quality is Quality.GOOD:
        quality, reason = Quality.BAD, reason or "no value"
    if quality is not Quality.GOOD and not reason:
        reason = f"quality {quality.value} from source"
    return value, rule.unit, quality, reason[:500] if reason else None


def to_reading(site: str, agent: str, s: Sample, units: UnitConverter) -> Reading | Reject:
    """Convert one sample into a validated contract Reading (or a Reject with the reason)."""
    out = convert(s, units)
    if isinstance(out, str):
        return Reject(s, out)
    value, unit, quality, reason = out
    try:
        return Reading(
            site=site,
            agent=agent,
            device=s.device,
            point=s.point,
            quantity=s.quantity,
            value=value,
            unit=unit,
            ts=s.ts,
            quality=quality,
            reason=reason,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'reading'}: {e['msg']}" for e in exc.errors())
        return Reject(s, f"not a valid reading: {problems}")


@dataclass
class ChangeFilter:
    """Report-on-change: keep a reading if it is the first, changed quality, moved more than the
    quantity's deadband, or the point has been silent for `max_silence_ns`. Quantities without
    a deadband always pass. Not-good readings always pass (an operator must see them)."""

    deadband: Mapping[str, float]
    max_silence_ns: int
    _last: dict[tuple[str, str], tuple[float | None, Quality, int]] = field(default_factory=dict)
    suppressed_total: int = 0

    def keep(
        self, device: str, point: str, quantity: str, value: float | None, quality: Quality, ts: int
    ) -> bool:
        band = self.deadband.get(quantity)
        if band is None:
            return True
        key = (device, point)
        last = self._last.get(key)
        send = (
            last is None
            or quality is not Quality.GOOD
            or last[1] is not quality
            or last[0] is None
            or value is None
            or abs(value - last[0]) > band
            or ts - last[2] >= self.max_silence_ns
        )
        if send:
            self._last[key] = (value, quality, ts)
        else:
            self.suppressed_total += 1
        return send


@dataclass
class Normaliser:
    site: str
    agent: str
    changes: ChangeFilter | None = None
    units: UnitConverter = field(default_factory=default_converter)

    # per (device, point, quantity, unit, resolution, valid range): the conversion rule and the
    # row template, filled when that point's first sample validated as a full Reading
    _known: dict[tuple[object, ...], tuple[_Rule, RowTemplate]] = field(default_factory=dict)

    def rows(self, samples: Iterable[Sample]) -> tuple[list[str], list[Reject]]:
        """`normalise` as wire rows (`contract.telemetry.encode_row`), the agent's hot path: the
        first sample of each point is validated as a full `Reading`; after that only what can
        change per sample (time) is checked, since `_apply` already makes value, unit, quality
        and reason consistent, and the row comes from the point's `RowTemplate`. Same rows as
        encoding `normalise`'s output."""
        rows: list[str] = []
        rejects: list[Reject] = []
        known, changes, site, agent = self._known, self.changes, self.site, self.agent
        for s in samples:
            key = (s.device, s.point, s.quantity, s.unit, s.resolution, s.valid_min, s.valid_max)
            hit = known.get(key)
            if hit is None or not TS_MIN_NS < s.ts < TS_MAX_NS:
                r = to_reading(site, agent, s, self.units)
                if isinstance(r, Reject):
                    rejects.append(r)
                    continue
                if hit is None:
                    rule = _rule(self.units, s.quantity, s.unit, s.resolution, s.valid_min, s.valid_max)
                    known[key] = (rule, RowTemplate.of(s.device, s.point, s.quantity, rule.unit))
                if changes is None or changes.keep(r.device, r.point, r.quantity, r.value, r.quality, r.ts):
                    rows.append(
                        encode_row_values(
                            r.device, r.point, r.quantity, r.value, r.unit, r.ts, r.quality, r.reason
                        )
                    )
                continue
            rule, template = hit
            value, _, quality, reason = _apply(rule, s.value, s.quality, s.reason)
            if changes is None or changes.keep(s.device, s.point, s.quantity, value, quality, s.ts):
                rows.append(template.row(value, s.ts, quality, reason))
        return rows, rejects

    def normalise(self, samples: Iterable[Sample]) -> tuple[list[Reading], list[Reject]]:
        readings: list[Reading] = []
        rejects: list[Reject] = []
        for s in samples:
            out = to_reading(self.site, self.agent, s, self.units)
            if isinstance(out, Reject):
                rejects.append(out)
            elif self.changes is None or self.changes.keep(
                out.device, out.point, out.quantity, out.value, out.quality, out.ts
            ):
                readings.append(out)
        return readings, rejects
