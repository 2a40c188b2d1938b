"""Planner properties: every point covered whole, limits respected, optimal request count."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_profiles.planner import PlanError, Span, plan_spans
from device_profiles.schema import PlanLimits, Table
from tests.support.budget import examples


@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[Span], PlanLimits]:
    """Non-overlapping spans per table (as the loader guarantees), random limits."""
    limits = PlanLimits(
        max_registers=draw(st.integers(4, 125)),
        max_bits=draw(st.integers(1, 2000)),
        max_gap=draw(st.integers(0, 12)),
    )
    spans: list[Span] = []
    for table in Table:
        addr = draw(st.integers(0, 50))
        for i in range(draw(st.integers(0, 25))):
            count = 1 if table.is_bit else draw(st.sampled_from([1, 1, 2, 2, 4]))
            spans.append(Span(f"{table.value}{i}", table, addr, count))
            addr += count + draw(st.sampled_from([0, 0, 0, 1, 3, 10, 40]))
    return draw(st.permutations(spans)), limits


def _optimal(spans: list[Span], limit: int, gap: int) -> int:
    """Exhaustive DP: fewest requests where each request is a run of consecutive spans."""
    s = sorted(spans, key=lambda x: x.start)

    @cache
    def best(i: int) -> int:
        if i == len(s):
            return 0
        out = 10**9
        end = s[i].end
        for j in range(i, len(s)):
            if j > i and s[j].start - end > gap:
                break
            end = max(end, s[j].end)
            if end - s[i].start > limit:
                break
            out = min(out, 1 + best(j + 1))
        return out

    return best(0)


@settings(max_examples=examples(150), deadline=None)
@given(layouts())
def test_plan_covers_every_point_within_limits(layout: tuple[list[Span], PlanLimits]) -> None:
    spans, limits = layout
    plan = plan_spans(spans, limits)
    covered = [name for r in plan for name in r.points]
    assert sorted(covered) == sorted(s.name for s in spans)  # each point exactly once
    by_name = {s.name: s for s in spans}
    for r in plan:
        limit = limits.max_bits if r.table.is_bit else limits.max_registers
        assert 1 <= r.count <= limit
        for name in r.points:
            s = by_name[name]
            assert s.table is r.table and r.start <= s.start and s.end <= r.end


@settings(max_examples=examples(150), deadline=None)
@given(layouts())
def test_plan_is_minimal(layout: tuple[list[Span], PlanLimits]) -> None:
    spans, limits = layout
    plan = plan_spans(spans, limits)
    for table in Table:
        mine = [s for s in spans if s.table is table]
        limit = limits.max_bits if table.is_bit else limits.max_registers
        assert sum(r.table is table for r in plan) == _optimal(mine, limit, limits.max_gap)


@settings(max_examples=examples(100), deadline=None)
@given(layouts())
def test_gap_zero_reads_no_unused_register(layout: tuple[list[Span], PlanLimits]) -> None:
    spans, limits = layout
    plan = plan_spans(spans, limits.model_copy(update={"max_gap": 0}))
    by_name = {s.name: s for s in spans}
    for r in plan:
        assert sum(by_name[n].count for n in r.points) == r.count


def test_limits_and_gap_examples() -> None:
    spans = [
        Span("a", Table.INPUT_REGISTER, 0, 2),
        Span("b", Table.INPUT_REGISTER, 6, 2),
        Span("c", Table.INPUT_REGISTER, 342, 2),
    ]
    assert [(r.start, r.count) for r in plan_spans(spans, PlanLimits(max_gap=0))] == [
        (0, 2),
        (6, 2),
        (342, 2),
    ]
    assert [(r.start, r.count) for r in plan_spans(spans, PlanLimits(max_gap=4))] == [(0, 8), (342, 2)]
    assert [(r.start, r.count) for r in plan_spans(spans, PlanLimits(max_gap=4, max_registers=7))] == [
        (0, 2),
        (6, 2),
        (342, 2),
    ]
    coils = [Span(f"c{i}", Table.COIL, i, 1) for i in range(2500)]
    assert [(r.start, r.count) for r in plan_spans(coils, PlanLimits())] == [(0, 2000), (2000, 500)]


def test_point_longer_than_limit_is_refused() -> None:
    with pytest.raises(PlanError, match="point 'long' needs 4 registers, the limit is 2"):
        plan_spans([Span("long", Table.HOLDING_REGISTER, 0, 4)], PlanLimits(max_registers=2))
