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

from pydantic import ValidationError

from contract.quantities import catalogue, round_to
from contract.telemetry import Quality, Reading
from edge_agent.samples import Sample
from edge_agent.units import UnitConverter, UnitError, default_converter


@dataclass(frozen=True, slots=True)
class Reject:
    sample: Sample
    reason: str


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def to_reading(site: str, agent: str, s: Sample, units: UnitConverter) -> Reading | Reject:
    """Convert one sample; out-of-range values keep their value with quality uncertain."""
    try:
        f = units.converter(s.quantity, s.unit)
    except UnitError as exc:
        return Reject(s, str(exc))
    spec = catalogue().spec(s.quantity)
    unit = spec.unit
    value = s.value
    quality, reason = s.quality, s.reason
    if value is not None and not math.isfinite(value):
        value, quality, reason = None, Quality.BAD, f"non-finite value {value!r} from device"
    if value is not None:
        # the source's step converted, else the catalogue's: never more digits than measured
        step = abs(s.resolution * f.scale) if s.resolution is not None else spec.resolution
        value = round_to(f(value), min(step, spec.resolution) if step > 0 else spec.resolution)
        if s.valid_min is None and s.valid_max is None:
            lo, hi = spec.valid_min, spec.valid_max
        else:
            lo = f(s.valid_min) if s.valid_min is not None else None
            hi = f(s.valid_max) if s.valid_max is not None else None
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        if quality is Quality.GOOD and ((lo is not None and value < lo) or (hi is not None and value > hi)):
            quality = Quality.UNCERTAIN
            rng = f"{_fmt(lo) if lo is not None else '-inf'}..{_fmt(hi) if hi is not None else 'inf'}"
            reason = f"value {_fmt(value)} {unit} outside valid range {rng} {unit}"
    elif quality is Quality.GOOD:
        quality, reason = Quality.BAD, reason or "no value"
    if quality is not Quality.GOOD and not reason:
        reason = f"quality {quality.value} from source"
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
            reason=reason[:500] if reason else None,
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

    def keep(self, r: Reading) -> bool:
        band = self.deadband.get(r.quantity)
        if band is None:
            return True
        key = (r.device, r.point)
        last = self._last.get(key)
        send = (
            last is None
            or r.quality is not Quality.GOOD
            or last[1] is not r.quality
            or last[0] is None
            or r.value is None
            or abs(r.value - last[0]) > band
            or r.ts - last[2] >= self.max_silence_ns
        )
        if send:
            self._last[key] = (r.value, r.quality, r.ts)
        else:
            self.suppressed_total += 1
        return send


@dataclass
class Normaliser:
    site: str
    agent: str
    changes: ChangeFilter | None = None
    units: UnitConverter = field(default_factory=default_converter)

    def normalise(self, samples: Iterable[Sample]) -> tuple[list[Reading], list[Reject]]:
        readings: list[Reading] = []
        rejects: list[Reject] = []
        for s in samples:
            out = to_reading(self.site, self.agent, s, self.units)
            if isinstance(out, Reject):
                rejects.append(out)
            elif self.changes is None or self.changes.keep(out):
                readings.append(out)
        return readings, rejects
