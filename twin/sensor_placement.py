"""Where a written-back sensor goes: inside its room, at a plausible mounting height.

A space's placement origin is wherever the authoring tool put it — Revit and KIT exports use the
storey or project origin — so "origin + 2.5 m" lands sensors metres outside the room or in the
room above. Instead the sensor goes to the pole of inaccessibility of the room's footprint (the
interior point farthest from every wall, inside even for L- and U-shaped rooms), at
floor + min(2.5 m, local room height − 0.3 m), where floor and ceiling are measured at that very
point (sloped roofs). Several sensors in one room sit on a small circle around that point.

The geometry maths is pure (numpy/shapely on a `Mesh`); the IFC writing helpers at the end create
the relative placement and a small box body so viewers show the sensor.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import ifcopenshell
import ifcopenshell.api.context
import ifcopenshell.util.placement
import ifcopenshell.util.representation
import numpy as np
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel

from twin.ifc_geometry import Mesh, space_meshes

MOUNT_HEIGHT_M = 2.5
CEILING_CLEARANCE_M = 0.3
SPREAD_M = 0.25  # radius of the circle several sensors of one room share
BODY_M = (0.12, 0.12, 0.06)  # a typical wall/ceiling sensor housing


@dataclass(frozen=True, slots=True)
class RoomShape:
    """A room as the placement needs it: world-coordinate mesh (metres) and its plan outline."""

    mesh: Mesh
    footprint: Polygon


def largest_polygon(geom: BaseGeometry) -> Polygon | None:
    if isinstance(geom, Polygon):
        return None if geom.is_empty else geom
    if isinstance(geom, MultiPolygon) and not geom.is_empty:
        return max(geom.geoms, key=lambda g: g.area)
    return None


MIN_FLOOR_M2 = 0.01  # below this a space has no inside to put a sensor in (a sliver, a flat box)


def room_shape(mesh: Mesh) -> RoomShape | None:
    fp = largest_polygon(mesh.footprint())
    return None if fp is None or fp.area < MIN_FLOOR_M2 else RoomShape(mesh, fp)


def z_range_at(mesh: Mesh, x: float, y: float) -> tuple[float, float] | None:
    """Lowest and highest surface of the mesh straight above/below (x, y): floor and ceiling there."""
    tris = mesh.verts[mesh.faces]
    a, b, c = tris[:, 0], tris[:, 1], tris[:, 2]
    v0, v1 = b[:, :2] - a[:, :2], c[:, :2] - a[:, :2]
    v2 = np.array([x, y]) - a[:, :2]
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    ok = np.abs(den) > 1e-12
    den = np.where(ok, den, 1.0)
    u = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
    v = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
    inside = ok & (u >= -1e-9) & (v >= -1e-9) & (u + v <= 1 + 1e-9)
    if not inside.any():
        return None
    z = a[inside, 2] + u[inside] * (b[inside, 2] - a[inside, 2]) + v[inside] * (c[inside, 2] - a[inside, 2])
    return float(z.min()), float(z.max())


def mount_z(floor: float, ceiling: float) -> float:
    """floor + min(2.5 m, height − 0.3 m); mid-height in rooms lower than 0.6 m (voids, shafts)."""
    height = ceiling - floor
    if height <= 2 * CEILING_CLEARANCE_M:
        return floor + height / 2
    return floor + min(MOUNT_HEIGHT_M, height - CEILING_CLEARANCE_M)


def sensor_points(shape: RoomShape | None, n: int) -> list[tuple[float, float, float] | None]:
    """World positions (metres) for `n` sensors in one room; None for each when there is no shape."""
    if shape is None:
        return [None] * n
    fp = shape.footprint
    pole = polylabel(fp, tolerance=max(0.01, math.sqrt(fp.area) / 200))
    if not fp.contains(pole):  # degenerate outlines: any interior point will do
        pole = fp.representative_point()
    inner = fp.buffer(-0.05)
    out: list[tuple[float, float, float] | None] = []
    for i in range(n):
        p = pole
        if i:
            ang = 2 * math.pi * (i - 1) / max(1, n - 1)
            cand = Point(pole.x + SPREAD_M * math.cos(ang), pole.y + SPREAD_M * math.sin(ang))
            p = cand if inner.contains(cand) else pole
        zr = z_range_at(shape.mesh, p.x, p.y)
        if zr is None:
            zr = float(shape.mesh.verts[:, 2].min()), float(shape.mesh.verts[:, 2].max())
        out.append((float(p.x), float(p.y), mount_z(*zr)))
    return out


def room_shapes(f: ifcopenshell.file, spaces: Iterable[Any]) -> dict[str, RoomShape]:
    """Shapes by GlobalId for the spaces given (only those: tessellation is the slow part)."""
    todo = list(spaces)
    meshes, _failed = space_meshes(f, todo)
    out = {}
    for sp in todo:
        mesh = meshes.get(sp.id())
        shape = room_shape(mesh) if mesh is not None else None
        if shape is not None:
            out[sp.GlobalId] = shape
    return out


# ---------------------------------------------------------------------------- IFC writing


def _point(f: ifcopenshell.file, xyz: Iterable[float]) -> Any:
    return f.create_entity("IfcCartesianPoint", Coordinates=tuple(float(v) for v in xyz))


def set_relative_placement(
    f: ifcopenshell.file, el: Any, space: Any, world_m: tuple[float, float, float] | None, scale: float
) -> None:
    """Place `el` relative to the space's placement at world point `world_m` (metres); without a
    point (space without geometry) at the space origin + 2.5 m, as before."""
    rel_to = space.ObjectPlacement
    if world_m is None:
        local = np.array([0.0, 0.0, MOUNT_HEIGHT_M / scale])
    else:
        world = np.array([*world_m, 1.0])
        world[:3] /= scale  # file units
        m = ifcopenshell.util.placement.get_local_placement(rel_to) if rel_to is not None else np.eye(4)
        local = (np.linalg.inv(m) @ world)[:3]
    axes = f.create_entity("IfcAxis2Placement3D", Location=_point(f, local))
    el.ObjectPlacement = f.create_entity("IfcLocalPlacement", PlacementRelTo=rel_to, RelativePlacement=axes)


def _body_context(f: ifcopenshell.file) -> Any:
    ctx = ifcopenshell.util.representation.get_context(f, "Model", "Body", "MODEL_VIEW")
    if ctx is None:
        ctx = next(
            (c for c in f.by_type("IfcGeometricRepresentationSubContext") if c.ContextIdentifier == "Body"),
            None,
        )
    if ctx is None:
        model = next(
            (
                c
                for c in f.by_type("IfcGeometricRepresentationContext", include_subtypes=False)
                if c.ContextType == "Model"
            ),
            None,
        )
        if model is None:
            model = ifcopenshell.api.context.add_context(f, context_type="Model")
        ctx = ifcopenshell.api.context.add_context(
            f, context_type="Model", context_identifier="Body", target_view="MODEL_VIEW", parent=model
        )
    return ctx


def add_box_body(f: ifcopenshell.file, el: Any, scale: float) -> None:
    """A small box centred on the placement point, so 3D viewers show the sensor."""
    w, d, h = (v / scale for v in BODY_M)
    origin2d = f.create_entity("IfcAxis2Placement2D", Location=_point(f, (0.0, 0.0)))
    profile = f.create_entity("IfcRectangleProfileDef", ProfileType="AREA", Position=origin2d, XDim=w, YDim=d)
    solid = f.create_entity(
        "IfcExtrudedAreaSolid",
        SweptArea=profile,
        Position=f.create_entity("IfcAxis2Placement3D", Location=_point(f, (0.0, 0.0, -h / 2))),
        ExtrudedDirection=f.create_entity("IfcDirection", DirectionRatios=(0.0, 0.0, 1.0)),
        Depth=h,
    )
    rep = f.create_entity(
        "IfcShapeRepresentation",
        ContextOfItems=_body_context(f),
        RepresentationIdentifier="Body",
        RepresentationType="SweptSolid",
        Items=[solid],
    )
    el.Representation = f.create_entity("IfcProductDefinitionShape", Representations=[rep])
