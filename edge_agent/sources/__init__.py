"""Sources as plugins: anything that produces samples for the agent implements `Source`.

The runtime wires a list of sources (`build_sources`) and knows nothing protocol-specific:
it starts each with `run(stop)`, hands it the sink at construction, and reads `health()` for
`/metrics` and the health message. A third protocol is a new module here plus one line in
`build_sources`, not an edit of the core.

Adapters today: `modbus.ModbusSource` (the poller in `edge_agent/sources/modbus/`) and
`mqtt.MqttSource` (the sensor-broker subscriber in `edge_agent/sources/mqtt/`, wrapped without
editing it).
"""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable

from edge_agent.device_health import DeviceHealth


@runtime_checkable
class Source(Protocol):
    """A producer of samples; `run` returns after `stop` is set (or when it gives up)."""

    name: str

    async def run(self, stop: asyncio.Event) -> None: ...

    def health(self) -> list[DeviceHealth]:
        """Per-device health this source tracks (may be empty)."""
        ...

    def stats(self) -> dict[str, float]:
        """Source-level counters and gauges for `/metrics` (name → value)."""
        ...

    def close(self) -> None:
        """Release connections; called once after `run` returned or was cancelled."""
        ...
