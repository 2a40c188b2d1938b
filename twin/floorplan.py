"""2D floor plans: the footprint of every space per storey, in storey coordinates (metres).

Every space with geometry is drawn, whatever its spatial relation: aggregated under a storey,
contained in it (IFC2X3), nested in another space (drawn on that space's storey), or hung under
the building/site or nothing (drawn on one "(no storey)" plan per file, in world coordinates).
Each space records that relation; footprints of one plan that overlap (several levels modelled
under one storey) are listed as warnings instead of being drawn on top of each other silently.

Tessellating a large model takes seconds, so plans are cached on disk as JSON keyed by the
SHA-256 of the IFC file (plus a format version): an unchanged file is never re-tessellated, a
changed one can never be served a stale plan. A file that cannot be read raises
`twin.ifc_open.IfcFileError` (file, schema, reason); callers report it and carry on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
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

from twin.ifc_geometry import Mesh, Progress, space_meshes
from twin.ifc_loader import LoadedFile, containers, file_problem, load_ifc, read_ifc, spatial_chain
from twin.ifc_loader import Progress as LoadProgress
from twin.ifc_open import UNREADABLE, IfcFileError, IfcFileProblem, open_ifc
from twin.isolate import heavy, run_isolated
from twin.model import Building, Campus, Space
from twin.plan_labels import fit_text, label_box

log = logging.getLogger(__name__)

CACHE_VERSION = 2
SIMPLIFY_M = 0.01
OVERLAP_MIN_M2 = 0.5  # footprints sharing less than this (or 10 % of the smaller) are just touching
NO_STOREY = "(no storey) 无楼层"


@dataclass(slots=True)
class SpacePlan:
    global_id: str
    name: str | None
    long_name: str | None
    outlines: list[list[tuple[float, float]]]  # exterior rings (a space may be several pieces)
    holes: list[list[tuple[float, float]]] = field(default_factory=list)
    area_m2: float = 0.0
    relation: str = "aggregated"  # aggregated | contained | nested | building | site | none
    z_min_m: float | None = None  # world elevation of the space's lowest point
    z_max_m: float | None = None


@dataclass(slots=True)
class StoreyPlan:
    global_id: str
    name: str | None
    elevation_m: float | None
    spaces: list[SpacePlan] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # spaces without usable geometry (GlobalIds)
    warnings: list[str] = field(default_factory=list)  # overlapping footprints etc.

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


def _relation(sp: Any, chain: list[Any]) -> str:
    """How the space hangs in the spatial tree (nearest ancestor decides)."""
    if not chain:
        return "none"
    parent = chain[0]
    if parent.is_a("IfcSpace"):
        return "nested"
    if parent.is_a("IfcBuildingStorey"):
        return "aggregated" if any(r.RelatingObject == parent for r in sp.Decomposes or ()) else "contained"
    if parent.is_a("IfcBuilding"):
        return "building"
    return "site" if parent.is_a("IfcSite") else "none"


def _local_inverse(placement: Any, scale: float) -> np.ndarray:
    if placement is None:
        return np.eye(4)
    m = ifcopenshell.util.placement.get_local_placement(placement).copy()
    m[:3, 3] *= scale  # geometry comes in metres
    return np.asarray(np.linalg.inv(m))


def _space_plan(sp: Any, mesh: Mesh, inv: np.ndarray, relation: str) -> SpacePlan:
    local = (np.c_[mesh.verts, np.ones(len(mesh.verts))] @ inv.T)[:, :3]
    fp = shapely.simplify(Mesh(local, mesh.faces).footprint(), SIMPLIFY_M)
    outs, holes = _rings(fp)
    z = mesh.verts[:, 2]
    return SpacePlan(
        sp.GlobalId,
        sp.Name,
        sp.LongName,
        outs,
        holes,
        round(fp.area, 3),
        relation,
        round(float(z.min()), 3),
        round(float(z.max()), 3),
    )


def overlap_warnings(plan: StoreyPlan, nested_pairs: set[frozenset[str]] | None = None) -> list[str]:
    """Pairs of footprints on one plan that overlap by more than OVERLAP_MIN_M2 and 10 % of the
    smaller one (a nested space and its parent are expected to overlap and are left out)."""
    polys = [
        (s, shapely.make_valid(Polygon(max(s.outlines, key=lambda r: Polygon(r).area))))
        for s in plan.spaces
        if s.outlines
    ]
    if len(polys) < 2:
        return []
    tree = shapely.STRtree([p for _, p in polys])
    out = []
    for i, j in zip(*tree.query([p for _, p in polys], predicate="intersects"), strict=True):
        if i >= j:
            continue
        (a, pa), (b, pb) = polys[i], polys[j]
        if nested_pairs and frozenset((a.global_id, b.global_id)) in nested_pairs:
            continue
        shared = pa.intersection(pb).area
        if shared < OVERLAP_MIN_M2 or shared < 0.1 * min(pa.area, pb.area):
            continue
        levels = ""
        if a.z_min_m is not None and b.z_min_m is not None and abs(a.z_min_m - b.z_min_m) > 1.0:
            levels = f"; floors at {a.z_min_m:g} m and {b.z_min_m:g} m: several levels under one storey"
        out.append(
            f"spaces {a.name or a.global_id!r} and {b.name or b.global_id!r} overlap by {shared:.1f} m²{levels}"
        )
    return out


def compute_plans(path: str | Path, progress: Progress | None = None) -> list[StoreyPlan]:
    """Floor plans of one IFC file (no cache): one per storey, plus one "(no storey)" plan for
    spaces that hang under no storey. Raises `IfcFileError` for a file that cannot be used,
    whatever the library raised while drawing it."""
    f = open_ifc(path).file
    try:
        return plans_of(f, path, progress)
    except Exception as exc:  # a damaged model the geometry code trips over: this file's problem
        log.debug("plans of %s failed", path, exc_info=True)
        raise IfcFileError(
            IfcFileProblem(
                str(path), f.schema, UNREADABLE, f"drawing the plans failed: {type(exc).__name__}: {exc}"
            )
        ) from None


def plans_of(f: ifcopenshell.file, path: str | Path, progress: Progress | None = None) -> list[StoreyPlan]:
    """The plans of an opened file (`compute_plans`; the cold load draws from the file it parsed)."""
    scale = uu.calculate_unit_scale(f)
    contained = containers(f)
    storeys: list[Any] = sorted(f.by_type("IfcBuildingStorey"), key=lambda s: s.Elevation or 0.0)
    plans = {
        st.id(): StoreyPlan(
            st.GlobalId, st.Name, float(st.Elevation) * scale if st.Elevation is not None else None
        )
        for st in storeys
    }
    inverses = {st.id(): _local_inverse(st.ObjectPlacement, scale) for st in storeys}
    loose = StoreyPlan(f"no-storey:{Path(path).name}", NO_STOREY, None)
    spaces = list(f.by_type("IfcSpace"))
    meshes, _failed = space_meshes(f, spaces, progress)
    nested_pairs: set[frozenset[str]] = set()
    for sp in spaces:
        chain = spatial_chain(sp, contained)
        storey = next((a for a in chain if a.is_a("IfcBuildingStorey")), None)
        plan = plans[storey.id()] if storey is not None and storey.id() in plans else loose
        inv = inverses[storey.id()] if plan is not loose and storey is not None else np.eye(4)
        relation = _relation(sp, chain)
        if relation == "nested":
            nested_pairs.add(frozenset((sp.GlobalId, chain[0].GlobalId)))
        mesh = meshes.get(sp.id())
        if mesh is None:
            plan.missing.append(sp.GlobalId)
            continue
        plan.spaces.append(_space_plan(sp, mesh, inv, relation))
    out = [plans[st.id()] for st in storeys]
    if loose.spaces or loose.missing:
        out.append(loose)
    for plan in out:
        plan.warnings.extend(overlap_warnings(plan, nested_pairs))
    if not spaces:
        loose.warnings.append("file contains no IfcSpace: nothing to draw")
        out.append(loose)
    return out


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
                s["relation"],
                s["z_min_m"],
                s["z_max_m"],
            )
            for s in d["spaces"]
        ]
        out.append(
            StoreyPlan(d["global_id"], d["name"], d["elevation_m"], spaces, d["missing"], d["warnings"])
        )
    return out


def _cache_file(path: str | Path, cache_dir: str | Path) -> Path:
    try:
        digest = file_hash(path)
    except OSError:
        open_ifc(path)  # raises the structured problem (missing, unreadable)
        raise
    return Path(cache_dir) / f"plans-v{CACHE_VERSION}-{digest}.json"


def _read_cache(cache: Path) -> list[StoreyPlan] | None:
    if not cache.is_file():
        return None
    try:
        return _from_json(json.loads(cache.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable plan cache %s: %s", cache, exc)
        return None


def _write_cache(cache: Path, plans: list[StoreyPlan]) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps([asdict(p) for p in plans], ensure_ascii=False), encoding="utf-8")
    tmp.replace(cache)  # atomic: a concurrent reader never sees half a file


def _compute_and_cache(path: str, cache: Path, progress: Progress | None) -> list[StoreyPlan]:
    plans = compute_plans(path, progress)
    _write_cache(cache, plans)
    return plans


def floor_plans(
    path: str | Path,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    *,
    isolate: bool | None = None,
) -> list[StoreyPlan]:
    """Plans of one IFC file, from the cache when the file is unchanged. Raises `IfcFileError`.
    A file not in the cache is drawn in a child process when `isolate` (None: when it is heavy),
    so a native crash is a CRASHED problem, not the end of the command."""
    if isolate is None:
        isolate = heavy(path)
    if cache_dir is None:
        return (
            run_isolated(str(path), compute_plans, str(path), progress)
            if isolate
            else compute_plans(path, progress)
        )
    cache = _cache_file(path, cache_dir)
    cached = _read_cache(cache)
    if cached is not None:
        return cached
    if isolate:
        return run_isolated(str(path), _compute_and_cache, str(path), cache, progress)
    return _compute_and_cache(str(path), cache, progress)


def attach_plans(buildings: Iterable[Building], plans: Iterable[StoreyPlan]) -> None:
    """Fill `Space.footprint` (largest outline, storey coordinates) for every space drawn, and the
    area/height the model did not state (from the same tessellation, so it is paid once and cached).
    Spaces are matched by IFC GlobalId within the one file the plans were drawn from."""
    by_gid: dict[str, Space] = {}
    for b in buildings:
        for s in b.all_spaces():
            by_gid.setdefault(s.ifc_id, s)
    for plan in plans:
        for sp in plan.spaces:
            target = by_gid.get(sp.global_id)
            if target is None or not sp.outlines:
                continue
            target.footprint = max(sp.outlines, key=lambda r: Polygon(r).area)
            if target.area_m2 is None:
                target.area_m2, target.quantity_source = sp.area_m2, "geometry"
            if target.height_m is None and sp.z_min_m is not None and sp.z_max_m is not None:
                target.height_m = round(sp.z_max_m - sp.z_min_m, 4)


def _read_with_plans(path: str, campus: str, cache: Path, progress: LoadProgress | None) -> LoadedFile:
    def then(f: ifcopenshell.file, lf: LoadedFile) -> None:
        plans = plans_of(f, path)
        _write_cache(cache, plans)
        attach_plans(lf.buildings, plans)

    return read_ifc(path, campus, progress, then=then)


def load_with_plans(
    path: str | Path,
    campus: str,
    cache_dir: str | Path,
    progress: LoadProgress | None = None,
    *,
    isolate: bool | None = None,
) -> LoadedFile:
    """One IFC file with its floor plans attached, the file parsed once.

    Warm (plans cached for this file's hash: it was read whole before): the model is read lazily
    and the plans come from the cache. Cold: one full parse yields the model and the plans (and
    fills the cache), in a child process when `isolate` (None: when the file is heavy), so a
    native crash is this file's CRASHED problem. Never raises for a bad file."""
    p = str(path)
    try:
        cache = _cache_file(p, cache_dir)
    except (IfcFileError, OSError):
        return load_ifc(p, campus, progress, isolate=False)  # lists the problem (missing, …)
    cached = _read_cache(cache)
    if cached is not None:
        lf = load_ifc(p, campus, progress, isolate=False)
        attach_plans(lf.buildings, cached)
        return lf
    if isolate is None:
        isolate = heavy(p)
    if not isolate:
        return _read_with_plans(p, campus, cache, progress)
    try:
        return run_isolated(p, _read_with_plans, p, campus, cache, progress)
    except IfcFileError as exc:
        return LoadedFile(p, exc.problem.schema, problems=[file_problem(exc.problem)])


def attach_footprints(campus: Campus, cache_dir: str | Path | None = None) -> None:
    """`attach_plans` for every file of a loaded campus (plans from the cache, else drawn: a
    second parse; `load_with_plans` avoids it). Files the loader reported as unusable are
    skipped; plans never stop the campus."""
    bad = {p.file for p in campus.problems if p.kind is not None}
    for path in campus.source_files:
        if path in bad:
            continue
        try:
            plans = floor_plans(path, cache_dir)
        except IfcFileError as exc:  # changed on disk since loading
            log.warning("no floor plans for %s", exc.problem)
            continue
        attach_plans([b for b in campus.buildings if b.source_file == path], plans)


SVG_STYLE = (
    "path{fill:#eef2f5;stroke:#33475b;stroke-width:.06}"
    "path:hover{fill:#d6e4f0}"
    "text{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;fill:#102030;pointer-events:none;"
    "text-anchor:middle}"
    "text.num{font-weight:bold}text.name{fill:#33475b}text.storey{text-anchor:start;font-weight:bold}"
)


def _label(s: SpacePlan, min_font: float, max_font: float) -> list[str]:
    """Visible <text> lines for one room: number, then name, each fitted to the room's free box;
    what does not fit is shortened or left to the hover title."""
    if not s.outlines:
        return []
    box = label_box(max(s.outlines, key=lambda r: Polygon(r).area))
    if box is None:
        return []
    lines: list[tuple[str, str, float]] = []
    room = fit_text(s.name or "", box.w, min(max_font, box.h / 2.2), min_font)
    if room is not None:
        lines.append(("num", *room))
    name = fit_text(s.long_name or "", box.w, min(max_font * 0.8, box.h / 2.2), min_font)
    if name is not None and (room is None or room[1] + name[1] * 1.1 <= box.h):
        lines.append(("name", *name))
    if not lines:
        return []
    total = sum(f for _, _, f in lines) * 1.1
    y = -box.y - total / 2
    out = []
    for cls, text, font in lines:
        y += font
        out.append(
            f'<text class="{cls}" x="{box.x:.3f}" y="{y - font * 0.12:.3f}" font-size="{font:.3f}">{escape(text)}</text>'
        )
        y += font * 0.1
    return out


def storey_svg(plan: StoreyPlan, room_class: dict[str, str] | None = None, margin_m: float = 1.0) -> str:
    """A standalone SVG of one storey (north up: SVG y is flipped); each space is a <path>
    with data-global-id / data-name, so the web UI can colour and link rooms, and a visible label
    (number and name, fitted to the room or shortened; the full name is the hover title)."""
    b = plan.bounds() or (0.0, 0.0, 1.0, 1.0)
    span = max(b[2] - b[0], b[3] - b[1], 1.0)
    min_font, max_font = span / 120, span / 60
    margin_m = max(margin_m, max_font * 2)
    x0, y0, x1, y1 = b[0] - margin_m, b[1] - margin_m, b[2] + margin_m, b[3] + margin_m
    storey = escape(plan.name or plan.global_id)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x0:.3f} {-y1:.3f} {x1 - x0:.3f} {y1 - y0:.3f}" '
        f'data-storey="{escape(plan.name or plan.global_id, quote=True)}">',
        f"<title>{storey}</title>",
        f"<style>{SVG_STYLE}</style>",
        f'<text class="storey" x="{x0 + max_font * 0.3:.3f}" y="{-y1 + max_font * 1.2:.3f}" '
        f'font-size="{max_font:.3f}">{storey}</text>',
    ]
    labels: list[str] = []
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
        labels.extend(_label(s, min_font, max_font))
    parts.extend(labels)  # above every room: a neighbour never paints over a label
    parts.append("</svg>")
    return "\n".join(parts)
