"""Identity that survives reuse: an object is (campus, model file, GlobalId).

A standard school design is built twice, or one model is registered for two campuses: their
GlobalIds are the same, which is normal. Anything that indexes the whole twin by GlobalId (the
API's lookup tables and URLs) would let one campus hide the other, so before indexing, every
object whose GlobalId occurs in more than one (campus, file) gets a qualified `global_id`:
`<campus>:<GlobalId>`, or `<campus>:<file name>:<GlobalId>` when one campus holds the id in two
files. The original stays in `ifc_global_id` (`.ifc_id`): telemetry, bindings and write-back
keep naming the IFC GlobalId, within their campus. Ids that occur once are left as they are, so
single-campus twins and existing URLs do not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from twin.model import Building, Campus, Space, Storey

Obj = Building | Storey | Space


def _objects(b: Building) -> list[Obj]:
    return [b, *b.storeys, *b.all_spaces()]


def qualify_shared_ids(campuses: Sequence[Campus]) -> int:
    """Qualify in place every GlobalId held by more than one (campus, file); returns how many
    objects were renamed. Idempotent: qualification always starts from the IFC GlobalId."""
    owners: dict[str, set[tuple[str, str]]] = {}
    for c in campuses:
        for b in c.buildings:
            for o in _objects(b):
                owners.setdefault(o.ifc_id, set()).add((c.id, b.source_file))
    renamed = 0
    for c in campuses:
        for b in c.buildings:
            new: dict[str, str] = {}
            for o in _objects(b):
                where = owners[o.ifc_id]
                gid = o.ifc_id
                if len(where) < 2:
                    key = gid
                elif sum(1 for cid, _ in where if cid == c.id) > 1:
                    key = f"{c.id}:{Path(b.source_file).name}:{gid}"
                else:
                    key = f"{c.id}:{gid}"
                if key != o.global_id:
                    renamed += 1
                o.ifc_global_id = gid if key != gid else None
                new[o.global_id] = key
                o.global_id = key
            for st in b.storeys:
                st.building_id = new.get(st.building_id, st.building_id)
            for s in b.all_spaces():
                s.building_id = new.get(s.building_id or "", s.building_id)
                s.storey_id = new.get(s.storey_id or "", s.storey_id)
    return renamed
