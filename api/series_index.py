"""Which stored series belong to which room, and which devices exist.

A series belongs to a room by its room tags (written by ingest from the binding table) or,
for series stored before a binding existed or after a rebinding, by the current binding table.
The binding table wins: it is what an admin just changed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from contract.bindings import BindingIndex
from contract.telemetry import SeriesKey
from store.base import SeriesInfo
from twin.index import TwinIndex


@dataclass(frozen=True, slots=True)
class DeviceRef:
    site: str
    device: str
    room: str | None  # space GlobalId


@dataclass
class SeriesIndex:
    by_room: dict[str, list[SeriesInfo]] = field(default_factory=dict)
    room_of: dict[SeriesKey, str] = field(default_factory=dict)
    devices: dict[tuple[str, str], DeviceRef] = field(default_factory=dict)
    series: list[SeriesInfo] = field(default_factory=list)
    devices_in_room: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, series: list[SeriesInfo], twin: TwinIndex, bindings: BindingIndex) -> SeriesIndex:
        idx = cls(series=series)
        by_room: dict[str, list[SeriesInfo]] = defaultdict(list)
        for s in series:
            k = s.key
            bound = bindings.lookup(k.site, k.device, k.point)
            place = None
            if bound is not None:
                place = twin.space_by_tags(bound.campus, bound.room, bound.room_number)
            if place is None and s.tags:
                place = twin.space_by_tags(
                    s.tags.get("campus", k.site), s.tags.get("room"), s.tags.get("room_number")
                )
            room = place.space.global_id if place else None
            if room:
                by_room[room].append(s)
                idx.room_of[k] = room
            dref = idx.devices.get((k.site, k.device))
            if dref is None or (dref.room is None and room is not None):
                idx._put(DeviceRef(k.site, k.device, room))
        idx.by_room = dict(by_room)
        return idx

    def _put(self, ref: DeviceRef) -> None:
        self.devices[(ref.site, ref.device)] = ref
        if ref.room:
            self.devices_in_room.setdefault(ref.room, set()).add(ref.device)

    def add_bound_devices(self, bindings: list[tuple[str, str, str | None]]) -> None:
        """Devices that are bound but have not reported yet still show up (as never seen)."""
        for site, device, room in bindings:
            if (site, device) not in self.devices:
                self._put(DeviceRef(site, device, room))
