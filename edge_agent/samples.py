"""What southbound sources (Modbus poller, MQTT subscriptions) hand to the agent core.

A `Sample` is a decoded value in the *device's* unit, stamped at read time. The normaliser
turns it into a contract `Reading` (canonical unit, range → quality, deadband), so sources
never need to know the wire contract's unit rules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from contract.telemetry import Quality


@dataclass(frozen=True, slots=True)
class Sample:
    device: str
    point: str
    quantity: str
    value: float | None
    unit: str  # the source's unit, e.g. "Wh"; normalised to the canonical unit later
    ts: int  # ns UTC at read time
    quality: Quality = Quality.GOOD
    reason: str | None = None
    valid_min: float | None = None  # valid range in the source's unit, from the profile/mapping
    valid_max: float | None = None
    resolution: float | None = None  # step in the source's unit (profile); None: the catalogue's


SampleSink = Callable[[Sequence[Sample]], Awaitable[None]]
