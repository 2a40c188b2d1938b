"""Registry entry of the line source: the agent YAML's `lines:` list (`config.LineInput`)."""

from __future__ import annotations

from edge_agent.sources import Source, SourceContext, SourcePlugin
from edge_agent.sources.lines.config import LineInput, rebase_inputs


def build(inputs: list[LineInput], ctx: SourceContext) -> Source | None:
    if not inputs:
        return None
    from edge_agent.sources.lines.source import LinesSource

    return LinesSource(inputs, ctx)


PLUGIN = SourcePlugin(key="lines", section=list[LineInput], default=[], build=build, rebase=rebase_inputs)
