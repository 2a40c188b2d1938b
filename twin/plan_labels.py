"""Room labels that fit their room on a floor plan, shortened when they do not.

A label's box is the room's widest free spot: the pole of inaccessibility of its outline (the
interior point farthest from every wall, inside even L- and U-shaped rooms), with the free
horizontal and vertical run through it. Text is fitted to that box from an estimate of its width
(a CJK character is about one em wide, a Latin one about 0.62 em): the font shrinks to a floor,
then the text is cut with "…". What cannot fit at all is left to the hover title, which always
carries the full name. The web UI follows the same rule (api/static/app.js `fitText`) with the
box the API sends (`FloorRoom.label`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import polylabel

LATIN_EM = 0.62  # average advance of a Latin character in em (sans-serif)
ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class LabelBox:
    """Centre (x, y) and free width/height (m, storey coordinates) for a room's label."""

    x: float
    y: float
    w: float
    h: float


def _run(poly: Polygon, p: Point, horizontal: bool) -> tuple[float, float]:
    """(length, midpoint) of the free run through `p` inside `poly`, horizontally or vertically."""
    x0, y0, x1, y1 = poly.bounds
    line = LineString([(x0 - 1, p.y), (x1 + 1, p.y)] if horizontal else [(p.x, y0 - 1), (p.x, y1 + 1)])
    cut = line.intersection(poly)
    parts = list(getattr(cut, "geoms", [cut]))
    seg = next((g for g in parts if g.distance(p) < 1e-6 and g.length > 0), None)
    if seg is None:
        return 0.0, p.x if horizontal else p.y
    a, b = seg.bounds[0::2] if horizontal else seg.bounds[1::2]
    return b - a, (a + b) / 2


def label_box(outline: Sequence[tuple[float, float]], margin: float = 0.9) -> LabelBox | None:
    """Where a room's label goes and how much room it has (None: a degenerate outline)."""
    if len(outline) < 3:
        return None
    poly = shapely.make_valid(Polygon(outline))
    if not isinstance(poly, Polygon):
        pieces = [g for g in getattr(poly, "geoms", []) if isinstance(g, Polygon)]
        if not pieces:
            return None
        poly = max(pieces, key=lambda g: g.area)
    if poly.is_empty or poly.area <= 0:
        return None
    pole = polylabel(poly, tolerance=max(0.01, poly.area**0.5 / 100))
    w, cx = _run(poly, pole, True)
    h, _ = _run(poly, Point(cx, pole.y), False)
    if h <= 0:
        h, _ = _run(poly, pole, False)
        cx = pole.x
    return LabelBox(round(cx, 3), round(pole.y, 3), round(w * margin, 3), round(h * margin, 3))


def text_em(text: str) -> float:
    """Estimated width of `text` in em."""
    return sum(1.0 if unicodedata.east_asian_width(c) in "WF" else LATIN_EM for c in text)


def fit_text(text: str, width: float, font: float, min_font: float) -> tuple[str, float] | None:
    """`text` at the largest size ≤ `font` that fits `width`; below `min_font` it is shortened
    with "…" at `min_font`; None when not even one character and the ellipsis fit."""
    text = text.strip()
    if not text or width <= 0 or font < min_font:
        return None
    em = text_em(text)
    if em * font <= width:
        return text, font
    if em * min_font <= width:
        return text, width / em
    for n in range(len(text) - 1, 0, -1):
        short = text[:n].rstrip() + ELLIPSIS
        if text_em(short) * min_font <= width:
            return short, min_font
    return None
