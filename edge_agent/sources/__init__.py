"""Sources as plugins: anything that produces samples for the agent is a `Source`.

The registry is `PLUGINS`, a list of modules; each holds a `PLUGIN` (`SourcePlugin`): the agent
YAML section it owns (its key, its config model, the default), and `build(section, context)`
returning the configured source or None. The agent config gets each plugin's section from here
(`edge_agent/config.py`), and the runtime wires the list `build_sources` returns: it starts each
with `run(stop)` under a supervisor, hands it the sink and the quarantine through
`SourceContext`, and reads `health()`, `links()`, `report()` for `/metrics` and the health
message. Decoding, device health and quarantine calls are the source's own. A new protocol is
a folder here plus one line in `PLUGINS` (edge_agent/sources/README.md).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from contract.clock import Clock
from edge_agent.device_health import DeviceHealth
from edge_agent.metrics import LinkState
from edge_agent.samples import SampleSink

# The registry: one module per protocol, each with a `PLUGIN`. Order = order of start and report.
PLUGINS: tuple[str, ...] = (
    "edge_agent.sources.modbus.plugin",
    "edge_agent.sources.mqtt.plugin",
    "edge_agent.sources.lines.plugin",
)

# (source name, topic or device/point, reason, the payload as received) → stored in quarantine
QuarantineSink = Callable[[str, str, str, bytes], Awaitable[None]]


@runtime_checkable
class Source(Protocol):
    """A producer of samples; `run` returns after `stop` is set (or when its input ended)."""

    name: str

    async def run(self, stop: asyncio.Event) -> None: ...

    def health(self) -> list[DeviceHealth]:
        """Per-device health this source tracks (may be empty)."""
        ...

    def device_details(self) -> dict[str, dict[str, Any]]:
        """Extra per-device fields for the health message (merged with `health()`)."""
        ...

    def links(self) -> list[LinkState]:
        """Connections this source needs (a sensor broker), for `/metrics` and the health message."""
        ...

    def overloaded(self) -> dict[str, float]:
        """Links that cannot keep their poll interval → the interval in force (s)."""
        ...

    def report(self) -> dict[str, Any]:
        """Extra top-level fields of the health message (e.g. `mqtt_decoding`)."""
        ...

    def stats(self) -> dict[str, float]:
        """Source-level counters and gauges (name → value)."""
        ...

    def close(self) -> None:
        """Release connections; called once after the last `run` returned or was cancelled."""
        ...


class SourceBase:
    """Defaults for the optional parts of `Source`: a new source implements `run` and what it has."""

    name = "source"

    def health(self) -> list[DeviceHealth]:
        return []

    def device_details(self) -> dict[str, dict[str, Any]]:
        return {}

    def links(self) -> list[LinkState]:
        return []

    def overloaded(self) -> dict[str, float]:
        return {}

    def report(self) -> dict[str, Any]:
        return {}

    def stats(self) -> dict[str, float]:
        return {}

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class SourceContext:
    """What the agent core gives every source: no `AgentConfig`, so a source never imports it."""

    site: str
    agent: str
    timezone: str
    clock: Clock
    sink: SampleSink  # returns once the samples are on disk
    quarantine: QuarantineSink
    profile_dirs: Sequence[Path] = ()
    profiles: Mapping[str, Any] | None = None  # device profiles already loaded (agent run/tests)

    def client_id(self, role: str) -> str:
        """The default MQTT client id of one of this agent's connections (fixed: persistent sessions)."""
        return f"campus-twin-{self.site}-{self.agent}-{role}"


@dataclass(frozen=True)
class SourcePlugin:
    """One protocol: its YAML section (`key`, type, default) and how a configured source is built."""

    key: str
    section: Any  # the section's type, e.g. `list[ModbusDevice]` or `MqttSouthConfig | None`
    default: Any  # the section when absent ([] or None)
    build: Callable[[Any, SourceContext], Source | None]
    rebase: Callable[[Any, Path], Any] | None = None  # relative paths → relative to the config file
    describe: Callable[[Any], list[str]] | None = None  # `agent check` lines for a configured section


def plugins() -> list[SourcePlugin]:
    """The registered plugins (importing a plugin module imports only its config model)."""
    return [importlib.import_module(name).PLUGIN for name in PLUGINS]


def build_sources(cfg: Any, context: SourceContext) -> list[Source]:
    """The configured sources, in registry order: one per plugin whose section is set."""
    out: list[Source] = []
    for plugin in plugins():
        section = getattr(cfg, plugin.key, plugin.default)
        source = plugin.build(section, context)
        if source is not None:
            out.append(source)
    return out
