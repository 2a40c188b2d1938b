"""Registry entry of the Modbus source: the agent YAML's `modbus:` list (`config.ModbusDevice`)."""

from __future__ import annotations

from typing import Any

from edge_agent.sources import Source, SourceContext, SourcePlugin
from edge_agent.sources.modbus.config import ModbusDevice


def build(devices: list[ModbusDevice], ctx: SourceContext) -> Source | None:
    if not devices:
        return None
    from edge_agent.profiles import load_profiles, search_dirs
    from edge_agent.sources.modbus.source import ModbusSource

    profiles: Any = ctx.profiles
    if profiles is None:
        profiles = load_profiles(search_dirs(list(ctx.profile_dirs))).profiles
    return ModbusSource(devices, profiles, ctx.sink, ctx.clock)


PLUGIN = SourcePlugin(key="modbus", section=list[ModbusDevice], default=[], build=build)
