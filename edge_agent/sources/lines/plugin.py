"""Registry entry of the line source: the agent YAML's `lines:` list (`config.LineInput`)."""

from __future__ import annotations

from edge_agent.sources import Source, SourceContext, SourcePlugin
from edge_agent.sources.lines.config import LineInput, rebase_inputs


def build(inputs: list[LineInput], ctx: SourceContext) -> Source | None:
    if not inputs:
        return None
    from edge_agent.sources.lines.source import LinesSource

    return LinesSource(inputs, ctx)


def describe(inputs: list[LineInput]) -> list[str]:
    out = []
    for i in inputs:
        s = i.serial
        where = f"serial {i.path} {s.baudrate} {s.bytesize}{s.parity}{s.stopbits}" if s else i.path
        out.append(f"lines: {i.id} ← {where} (points {', '.join(sorted(i.points))})")
    return out


PLUGIN = SourcePlugin(
    key="lines", section=list[LineInput], default=[], build=build, rebase=rebase_inputs, describe=describe
)
