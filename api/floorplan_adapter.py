"""Space footprints for the floor plan, when the loaded twin has none yet.

Thin adapter until the twin's floor-plan module fills `Space.footprint`: it tessellates the
IfcSpace bodies of each building's IFC file with `twin.ifc_geometry.space_meshes` and keeps the
outer ring of the projected footprint (world XY, metres — one frame for every room of a storey).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from twin.model import Campus

log = logging.getLogger(__name__)


def fill_footprints(campuses: Sequence[Campus]) -> int:
    """Fill `footprint` of spaces that lack one; returns how many were filled."""
    filled = 0
    for campus in campuses:
        for b in campus.buildings:
            missing = {s.global_id: s for s in b.all_spaces() if not s.footprint}
            if not missing or not b.source_file:
                continue
            try:
                import ifcopenshell

                from twin.ifc_geometry import space_meshes

                f = ifcopenshell.open(b.source_file)
            except (OSError, RuntimeError) as exc:
                log.warning("floor plan: cannot open %s: %s", b.source_file, exc)
                continue
            elements = [f.by_guid(gid) for gid in missing]
            meshes, _failed = space_meshes(f, elements)
            for el in elements:
                mesh = meshes.get(el.id())
                if mesh is None:
                    continue
                geom = mesh.footprint().simplify(0.01)
                if geom.is_empty:
                    continue
                poly = max(getattr(geom, "geoms", [geom]), key=lambda g: g.area)
                coords = list(poly.exterior.coords)[:-1]
                missing[el.GlobalId].footprint = [(float(x), float(y)) for x, y in coords]
                filled += 1
    return filled
