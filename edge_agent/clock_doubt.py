"""Readings stamped while the agent's own clock is doubtful (contract.clock.ClockWatch saw it
step) keep their value with quality uncertain and the reason: never silently good in the future
or the past. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from contract.telemetry import Quality
from edge_agent.samples import Sample

REASON_MAX = 500


def mark_doubtful(samples: Sequence[Sample], reason: str | None) -> Sequence[Sample]:
    """`samples` unchanged without a reason; else good ones become uncertain and every non-bad
    one carries the reason (after its own, if it had one)."""
    if reason is None:
        return samples
    out: list[Sample] = []
    for s in samples:
        if s.quality is Quality.BAD:
            out.append(s)
            continue
        text = f"{s.reason}; {reason}" if s.reason else reason
        out.append(replace(s, quality=Quality.UNCERTAIN, reason=text[:REASON_MAX]))
    return out
