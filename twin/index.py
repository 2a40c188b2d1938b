"""Lookup tables over the loaded twin: every campus/building/storey/space by id, with parents.

Built once per (re)load, so each request is a dict lookup; neither the API nor the live state
(`twin/live_engine.py`) walks the model. Keys are the objects' `global_id`, which
`twin.identity.qualify_shared_ids` has made unique across the twin (campuses built from one
design share IFC GlobalIds); telemetry names a room by (campus, IFC GlobalId), resolved through
`by_ifc`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from twin.model import Building, Campus, Space, Storey


@dataclass(frozen=True, slots=True)
class SpacePlace:
    campus: Campus
    building: Building
    storey: Storey | None
    space: Space


@dataclass
class TwinIndex:
    campuses: dict[str, Campus] = field(default_factory=dict)
    buildings: dict[str, tuple[Campus, Building]] = field(default_factory=dict)
    storeys: dict[str, tuple[Campus, Building, Storey]] = field(default_factory=dict)
    spaces: dict[str, SpacePlace] = field(default_factory=dict)
    by_number: dict[tuple[str, str], str] = field(default_factory=dict)  # (campus, room number) → gid
    by_ifc: dict[tuple[str, str], str] = field(default_factory=dict)  # (campus, IFC GlobalId) → key

    @classmethod
    def build(cls, campuses: Sequence[Campus]) -> TwinIndex:
        idx = cls()
        for c in campuses:
            idx.campuses[c.id] = c
            for b in c.buildings:
                idx.buildings[b.global_id] = (c, b)
                for st in b.storeys:
                    idx.storeys[st.global_id] = (c, b, st)
                    for sp in st.spaces:
                        idx._add(SpacePlace(c, b, st, sp))
                for sp in b.spaces_without_storey:
                    idx._add(SpacePlace(c, b, None, sp))
        return idx

    def _add(self, place: SpacePlace) -> None:
        key = place.space.global_id
        self.spaces.setdefault(key, place)  # a GlobalId twice in one file: listed, the first served
        self.by_number.setdefault((place.campus.id, place.space.room_number), key)
        self.by_ifc.setdefault((place.campus.id, place.space.ifc_id), key)

    def space_by_tags(self, campus: str, room: str | None, room_number: str | None) -> SpacePlace | None:
        """The space a series is tagged with: by (campus, IFC GlobalId), else by its key, else by
        room number within the campus."""
        if room and (campus, room) in self.by_ifc:
            return self.spaces[self.by_ifc[(campus, room)]]
        if room and room in self.spaces:
            return self.spaces[room]
        if room_number:
            gid = self.by_number.get((campus, room_number))
            if gid:
                return self.spaces[gid]
        return None
