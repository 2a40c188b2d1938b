"""The binding table: which room each device/point is in, as the twin exports it for ingest.

Ingest must not import the twin (it is the upper layer), so the twin writes this table as
JSON (`campus-twin twin bind … --out bindings.json`) and ingest reads it to tag points with
campus/building/storey/room. A point-level binding wins over a device-level one.

A binding may also say where the point measures (`role`: desk plane, blackboard, wall …); the
twin passes it to the standards engine, where it wins over the device profile's default and
over name patterns.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from contract.sensor_roles import SensorRole
from contract.telemetry import DeviceIdent, Ident


class RoomTags(BaseModel):
    """The tags ingest adds to every point of a bound series."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    campus: str
    building: str
    storey: str
    room: str = Field(description="IfcSpace GlobalId")
    room_number: str
    room_type: str | None = None


class Binding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    site: Ident
    device: DeviceIdent
    point: Ident | None = Field(default=None, description="None binds every point of the device")
    tags: RoomTags
    role: SensorRole | None = Field(
        default=None, description="where the point(s) measure; None: not declared"
    )
    source: str = Field(default="file", description="'ifc' (IfcSensor in the space) or 'file' or 'ifc+file'")


class BindingTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: int = 1
    generated_at: str | None = None
    bindings: list[Binding] = Field(default_factory=list)

    def index(self) -> dict[tuple[str, str, str | None], RoomTags]:
        return {(b.site, b.device, b.point): b.tags for b in self.bindings}

    @classmethod
    def load(cls, path: str | Path) -> BindingTable:
        return cls.model_validate_json(Path(path).read_bytes())

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.model_dump_json(indent=2, exclude_none=True), encoding="utf-8")


class BindingIndex:
    """Fast lookup (site, device, point) → tags with the device-level fallback."""

    def __init__(self, table: BindingTable | None = None) -> None:
        self._idx = table.index() if table else {}
        self._roles = {(b.site, b.device, b.point): b.role for b in table.bindings if b.role} if table else {}

    def __len__(self) -> int:
        return len(self._idx)

    def lookup(self, site: str, device: str, point: str) -> RoomTags | None:
        return self._idx.get((site, device, point)) or self._idx.get((site, device, None))

    def role(self, site: str, device: str, point: str) -> SensorRole | None:
        """The declared role: the point's binding, else the device's; None when neither says."""
        return self._roles.get((site, device, point)) or self._roles.get((site, device, None))
