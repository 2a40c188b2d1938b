"""Space geometry from IFC: triangulated bodies via ifcopenshell.geom, reduced to what the twin
needs (floor area, volume, height, 2D footprint). Kept apart from the loader so floor plans and
the quantity fallback share one tessellation path."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import ifcopenshell
import ifcopenshell.geom
import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True, slots=True)
class Mesh:
    """A triangulated body in world coordinates (metres, Z up)."""

    verts: np.ndarray  # (n, 3)
    faces: np.ndarray  # (m, 3) vertex indices

    @property
    def height(self) -> float:
        return float(self.verts[:, 2].max() - self.verts[:, 2].min()) if len(self.verts) else 0.0

    @property
    def volume(self) -> float:
        """Signed-tetrahedron sum; abs() because exporters do not agree on winding."""
        if not len(self.faces):
            return 0.0
        v = self.verts[self.faces]
        return float(abs(np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum()) / 6.0)

    def footprint(self) -> BaseGeometry:
        """Union of the triangles projected onto XY: the plan outline (may be a MultiPolygon)."""
        tris = self.verts[self.faces][:, :, :2]
        # drop vertical triangles: they project to lines and only cost time in the union
        ab, ac = tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]
        keep = np.abs(ab[:, 0] * ac[:, 1] - ab[:, 1] * ac[:, 0]) > 1e-9
        polys = shapely.polygons(np.concatenate([tris[keep], tris[keep][:, :1]], axis=1))
        if len(polys) == 0:
            return Polygon()
        return shapely.union_all(polys).buffer(0)


def _settings() -> ifcopenshell.geom.settings:
    s = ifcopenshell.geom.settings()
    s.set("use-world-coords", True)
    return s


def space_meshes(
    f: ifcopenshell.file, elements: Iterable[ifcopenshell.entity_instance], progress: Progress | None = None
) -> tuple[dict[int, Mesh], dict[int, str]]:
    """World-coordinate meshes by entity id, and the failures (id → reason) for the rest.

    Elements without a representation are reported as failures, not skipped silently."""
    todo = list(elements)
    meshes: dict[int, Mesh] = {}
    failed: dict[int, str] = {}
    with_repr = []
    for el in todo:
        if getattr(el, "Representation", None) is None:
            failed[el.id()] = "no geometric representation"
        else:
            with_repr.append(el)
    if not with_repr:
        return meshes, failed
    # One thread: the loader opens files lazily (attributes parsed on first read), and the
    # iterator's worker threads racing on that parse dropped shapes now and then (a space's
    # area came back None in about one run of eight).
    it = ifcopenshell.geom.iterator(_settings(), f, 1, include=with_repr)
    total = len(with_repr)
    if it.initialize():
        done = 0
        while True:
            shape = it.get()
            verts = np.asarray(shape.geometry.verts, dtype=float).reshape(-1, 3)
            faces = np.asarray(shape.geometry.faces, dtype=np.int64).reshape(-1, 3)
            if len(faces):
                meshes[shape.id] = Mesh(verts, faces)
            done += 1
            if progress:
                progress(done, total)
            if not it.next():
                break
    for el in with_repr:
        if el.id() not in meshes:
            failed[el.id()] = "geometry could not be tessellated"
    return meshes, failed
