"""Gap and duplicate detection from per-agent batch sequence numbers (pure, no I/O).

An agent numbers its batches 0,1,2,… and keeps the counter across restarts; a batch that
is resent after a crash or a lost PUBACK keeps its number. The receiver therefore sees:
the next number (normal), a number already seen (duplicate: its points are idempotent
anyway), or a jump (gap: batches the agent numbered but that never arrived — yet; they
may still come on replay, which then closes the gap).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class SeqVerdict(StrEnum):
    NEXT = "next"
    DUPLICATE = "duplicate"
    GAP = "gap"
    LATE = "late"  # fills an earlier gap (replay out of order)
    FIRST = "first"


@dataclass
class AgentSequence:
    highest: int
    missing: set[int] = field(default_factory=set)


@dataclass
class SequenceTracker:
    """Per (site, agent) state; `open_gaps` counts numbers still missing right now."""

    agents: dict[tuple[str, str], AgentSequence] = field(default_factory=dict)
    duplicates_total: int = 0
    gaps_total: int = 0
    max_tracked_missing: int = 100_000

    def observe(self, site: str, agent: str, seq: int) -> SeqVerdict:
        key = (site, agent)
        state = self.agents.get(key)
        if state is None:
            self.agents[key] = AgentSequence(highest=seq)
            return SeqVerdict.FIRST
        if seq == state.highest + 1:
            state.highest = seq
            return SeqVerdict.NEXT
        if seq > state.highest + 1:
            jumped = range(state.highest + 1, seq)
            self.gaps_total += len(jumped)
            if len(state.missing) + len(jumped) <= self.max_tracked_missing:
                state.missing.update(jumped)
            state.highest = seq
            return SeqVerdict.GAP
        if seq in state.missing:
            state.missing.discard(seq)
            return SeqVerdict.LATE
        self.duplicates_total += 1
        return SeqVerdict.DUPLICATE

    def open_gaps(self, site: str | None = None, agent: str | None = None) -> int:
        return sum(
            len(s.missing)
            for (si, ag), s in self.agents.items()
            if (site is None or si == site) and (agent is None or ag == agent)
        )
