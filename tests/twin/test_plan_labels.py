"""Plan labels fit their room: a long name in a small room is shortened with "…", a name that
cannot fit at all is left to the hover title, and standalone SVG plans show visible labels."""

from __future__ import annotations

import re

from shapely.geometry import Point, Polygon

from twin.floorplan import SpacePlan, StoreyPlan, storey_svg
from twin.plan_labels import fit_text, label_box, text_em


def test_label_box_sits_in_the_wide_part_of_an_l_shaped_room() -> None:
    l_shape = [(0, 0), (10, 0), (10, 2), (2, 2), (2, 8), (0, 8), (0, 0)]
    box = label_box(l_shape)
    assert box is not None
    assert Polygon(l_shape).contains(Point(box.x, box.y))  # inside the L, not in its corner gap
    assert 0 < box.w <= 10 and 0 < box.h <= 8


def test_fit_text_shrinks_then_shortens_then_gives_up() -> None:
    assert fit_text("101", 5.0, 0.6, 0.3) == ("101", 0.6)
    text, font = fit_text("Buero Hausmeister", 4.0, 0.6, 0.3) or ("", 0.0)
    assert text == "Buero Hausmeister" and 0.3 <= font < 0.6 and text_em(text) * font <= 4.0
    short = fit_text("Buero Hausmeister Verwaltung", 2.0, 0.6, 0.3)
    assert short is not None and short[0].endswith("…") and text_em(short[0]) * 0.3 <= 2.0
    assert fit_text("教师办公室", 0.2, 0.6, 0.3) is None  # not even "教…": hover title only
    assert text_em("无传感器") == 4.0  # CJK: one em per character


def test_standalone_svg_shows_labels_that_fit_and_keeps_the_full_name_on_hover() -> None:
    big = SpacePlan("g1", "101", "普通教室", [[(0, 0), (9, 0), (9, 8), (0, 8), (0, 0)]])
    small = SpacePlan("g2", "102", "无障碍卫生间及清洁间", [[(9, 0), (10.2, 0), (10.2, 2), (9, 2), (9, 0)]])
    svg = storey_svg(StoreyPlan("s", "1F", 0.0, [big, small]))
    texts = re.findall(
        r'<text class="(\w+)" x="([\d.-]+)" y="[\d.-]+" font-size="([\d.]+)">([^<]*)</text>', svg
    )
    shown = {t[3] for t in texts}
    assert {"101", "普通教室", "1F"} <= shown  # visible, not only in <title>
    assert "<title>102 无障碍卫生间及清洁间</title>" in svg  # the full name on hover
    for cls, x, font, text in texts:  # what is drawn in the small room fits its 1.2 m width
        if cls != "storey" and 9 < float(x) < 10.2:
            assert text_em(text) * float(font) <= 1.2, text
    assert svg.index('<text class="num"') > svg.rindex("<path")  # labels above every room
