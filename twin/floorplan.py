"""2D floor plans: the footprint of every space per storey, in storey coordinates (metres).

Tessellating a large model takes seconds, so plans are cached on disk as JSON keyed by the
SHA-256 of the IFC file (plus a format version): an unchanged file is never re-tessellated, a
changed one can never be served a stale plan.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.util.placement
import ifcopenshell.util.unit as uu
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from twin.ifc_geometry import space_meshes
from twin.model import Campus

log = logging.getLogger(__name__)

CACHE_VERSION = 1
SIMPLIFY_M = 0.01


@dataclass(slots=True)
class SpacePlan:
    global_id: str
    name: str | None
    long_name: str | None
    outlines: list[list[tuple[float, float]]]  # exterior rings (a space may be several pieces)
    holes: list[list[tuple[float, float]]] = field(default_factory=list)
    area_m2: float = 0.0


@dataclass(slots=True)
class StoreyPlan:
    global_id: str
    name: str | None
    elevation_m: float | None
    spaces: list[SpacePlan] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # spaces without usable geometry (GlobalIds)

    def bounds(self) -> tuple[float, float, float, float] | None:
        pts = [p for s in self.spaces for ring in s.outlines for p in ring]
        if not pts:
            return None
        a = np.asarray(pts)
        return float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 0].max()), float(a[:, 1].max())


def file_hash(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _rings(geom: Any) -> tuple[list[list[tuple[float, float]]], list[list[tuple[float, float]]]]:
    polys = (
        list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom] if isinstance(geom, Polygon) else []
    )
    outs: list[list[tuple[float, float]]] = []
    holes: list[list[tuple[float, float]]] = []
    for p in polys:
        if p.is_empty:
            continue
        outs.append([(round(x, 3), round(y, 3)) for x, y in p.exterior.coords])
        holes.extend([(round(x, 3), round(y, 3)) for x, y in r.coords] for r in p.interiors)
    return outs, holes


def compute_plans(path: str | Path) -> list[StoreyPlan]:
    """Floor plans of one IFC file (no cache). Spaces under no storey are not drawn."""
    f = ifcopenshell.open(str(path))
    scale = uu.calculate_unit_scale(f)
    plans = []
    storeys: list[Any] = sorted(f.by_type("IfcBuildingStorey"), key=lambda s: s.Elevation or 0.0)
    for st in storeys:
        spaces = [o for rel in (st.IsDecomposedBy or ()) for o in rel.RelatedObjects if o.is_a("IfcSpace")]
        plan = StoreyPlan(
            st.GlobalId, st.Name, float(st.Elevation) * scale if st.Elevation is not None else None
        )
        if not spaces:
            plans.append(plan)
            continue
        inv: Any = np.eye(4)
        if st.ObjectPlacement is not None:
            m = ifcopenshell.util.placement.get_local_placement(st.ObjectPlacement).copy()
            m[:3, 3] *= scale  # geometry comes in metres
            inv = np.linalg.inv(m)
        meshes, _failed = space_meshes(f, spaces)
        for sp in spaces:
            mesh = meshes.get(sp.id())
            if mesh is None:
                plan.missing.append(sp.GlobalId)
                continue
            local = (np.c_[mesh.verts, np.ones(len(mesh.verts))] @ inv.T)[:, :3]
            fp = type(mesh)(local, mesh.faces).footprint()
            fp = shapely.simplify(fp, SIMPLIFY_M)
            outs, holes = _rings(fp)
            plan.spaces.append(SpacePlan(sp.GlobalId, sp.Name, sp.LongName, outs, holes, round(fp.area, 3)))
        plans.append(plan)
    return plans


def _from_json(doc: list[dict[str, Any]]) -> list[StoreyPlan]:
    out = []
    for d in doc:
        spaces = [
            SpacePlan(
                s["global_id"],
                s["name"],
                s["long_name"],
                [[tuple(p) for p in r] for r in s["outlines"]],
                [[tuple(p) for p in r] for r in s["holes"]],
                s["area_m2"],
            )
            for s in d["spaces"]
        ]
        out.append(StoreyPlan(d["global_id"], d["name"], d["elevation_m"], spaces, d["missing"]))
    return out


def floor_plans(path: str | Path, cache_dir: str | Path | None = None) -> list[StoreyPlan]:
    """Plans of one IFC file, from the cache when the file is unchanged."""
    if cache_dir is None:
        return compute_plans(path)
    cache = Path(cache_dir) / f"plans-v{CACHE_VERSION}-{file_hash(path)}.json"
    if cache.is_file():
        try:
            return _from_json(json.loads(cache.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable plan cache %s: %s", cache, exc)
    plans = compute_plans(path)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps([asdict(p) for p in plans], ensure_ascii=False), encoding="utf-8")
    tmp.replace(cache)  # atomic: a concurrent reader never sees half a file
    return plans


def attach_footprints(campus: Campus, cache_dir: str | Path | None = None) -> None:
    """Fill `Space.footprint` (largest outline, storey coordinates) for every space drawn."""
    by_gid = {s.global_id: s for s in campus.spaces()}
    for path in campus.source_files:
        for plan in floor_plans(path, cache_dir):
            for sp in plan.spaces:
                target = by_gid.get(sp.global_id)
                if target is not None and sp.outlines:
                    target.footprint = max(sp.outlines, key=lambda r: Polygon(r).area)


def storey_svg(plan: StoreyPlan, room_class: dict[str, str] | None = None, margin_m: float = 1.0) -> str:
    """A standalone SVG of one storey (north up: SVG y is flipped); each space is a <path>
    with data-global-id / data-name, so the web UI can colour and link rooms."""
    b = plan.bounds() or (0.0, 0.0, 1.0, 1.0)
    x0, y0, x1, y1 = b[0] - margin_m, b[1] - margin_m, b[2] + margin_m, b[3] + margin_m
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x0:.3f} {-y1:.3f} {x1 - x0:.3f} {y1 - y0:.3f}">'
    ]
    for s in plan.spaces:
        d = " ".join(
            "M " + " L ".join(f"{x:.3f} {-y:.3f}" for x, y in ring) + " Z" for ring in s.outlines + s.holes
        )
        cls = escape((room_class or {}).get(s.global_id, "space"), quote=True)
        label = escape(" ".join(x for x in (s.name, s.long_name) if x), quote=True)
        parts.append(
            f'<path class="{cls}" fill-rule="evenodd" data-global-id="{escape(s.global_id, quote=True)}" '
            f'data-name="{label}" d="{d}"><title>{label}</title></path>'
        )
    parts.append("</svg>")
    return "\n".join(parts)
