"""Room typing rules: names (zh/en/de), ObjectType keys, equipment, classification, psets, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.yamlio import ConfigError
from twin.model import Building, Campus, Space, Storey
from twin.rooms import classify, load_rules, type_rooms

RULES = load_rules()


def _space(**kw: object) -> Space:
    base: dict[str, object] = {"global_id": "g", "name": None, "long_name": None}
    base.update(kw)
    return Space(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("long_name", "expected", "rule"),
    [
        ("初二(3)班 普通教室", "general_classroom", "name-classroom"),
        ("智慧教室", "smart_classroom", "name-smart"),
        ("录播教室", "recording_classroom", "name-recording"),
        ("多媒体教室", "multimedia_classroom", "name-multimedia"),
        ("微机室", "computer_room", "name-computer"),
        ("物理实验室", "physics_lab", "name-physics"),
        ("Chemistry Lab 2", "chemistry_lab", "name-chemistry"),
        ("生物实验室", "biology_lab", "name-biology"),
        ("新型实验室（VR/AI）", "new_lab", "name-new-lab"),
        ("阅览室", "library", "name-library"),
        ("教师办公室", "office", "name-office"),
        ("音乐教室", "function_room", "name-function"),
        ("Buero", "office", "name-office"),
        ("Flur", "corridor", "name-corridor"),
        ("Bad", "toilet", "name-toilet"),
        ("Badminton hall", "other", "default"),  # '^Bad$' is anchored: no false toilet
        ("Schlafzimmer", "other", "default"),
    ],
)
def test_names(long_name: str, expected: str, rule: str) -> None:
    rtype, ev = classify(_space(long_name=long_name), RULES)
    assert (rtype, ev[0].rule) == (expected, rule)
    if rule != "default":
        assert ev[0].attribute == "LongName" and ev[0].value == long_name


def test_name_attribute_used_when_long_name_missing() -> None:
    rtype, ev = classify(_space(name="Computer Room 1"), RULES)
    assert rtype == "computer_room" and ev[0].attribute == "Name"


def test_object_type_key_wins_over_name() -> None:
    rtype, ev = classify(_space(long_name="普通教室", object_type="smart_classroom"), RULES)
    assert rtype == "smart_classroom" and ev[0].rule == "object-type-key"
    rtype, _ = classify(_space(long_name="普通教室", object_type="Raum"), RULES)
    assert rtype == "general_classroom"


def test_equipment_turns_a_classroom_smart_or_multimedia() -> None:
    board = {"ifc_class": "IfcAudioVisualAppliance", "predefined_type": "DISPLAY", "name": "白板"}
    projector = {"ifc_class": "IfcAudioVisualAppliance", "predefined_type": "PROJECTOR", "name": "投影仪"}
    rtype, ev = classify(_space(long_name="教室 301", equipment_info=[board, projector]), RULES)
    assert rtype == "smart_classroom"
    assert [e.attribute for e in ev] == ["LongName", "equipment"] and ev[1].value.endswith("白板")
    rtype, ev = classify(_space(long_name="教室 302", equipment_info=[projector]), RULES)
    assert rtype == "multimedia_classroom" and ev[0].rule == "classroom-with-projector"
    assert classify(_space(long_name="教室 303"), RULES)[0] == "general_classroom"


def test_classification_and_pset() -> None:
    rtype, ev = classify(
        _space(long_name="Raum 5", classifications=["Uniclass:SL_20_15:Office spaces"]), RULES
    )
    assert rtype == "office" and ev[0].attribute == "Classification"
    rtype, ev = classify(_space(long_name="R1", psets={"Pset_SpaceCommon": {"Category": "Classroom"}}), RULES)
    assert rtype == "general_classroom" and ev[0].attribute == "Pset_SpaceCommon.Category"


def test_overrides_win_and_bad_overrides_are_reported() -> None:
    s1 = _space(global_id="a", name="A-101", long_name="普通教室")
    s2 = _space(global_id="b", name="A-102", long_name="普通教室")
    st = Storey("s", "1F", 0.0, "b", spaces=[s1, s2])
    campus = Campus("c", "c", buildings=[Building("b", "A", "c", "f.ifc", storeys=[st])])
    msgs = type_rooms(campus, RULES, {"A-101": "recording_classroom", "A-102": "nope", "Z-1": "office"})
    assert s1.room_type == "recording_classroom" and s1.evidence[0].rule == "override"
    assert s2.room_type == "general_classroom"
    assert any("A-102" in m and "unknown room type" in m for m in msgs)
    assert any("Z-1" in m and "no room" in m for m in msgs)


def test_labels_cover_every_team_key() -> None:
    keys = {
        "general_classroom": "普通教室",
        "smart_classroom": "智慧教室",
        "multimedia_classroom": "多媒体教室",
        "recording_classroom": "录播教室",
        "computer_room": "计算机教室",
        "physics_lab": "物理实验室",
        "chemistry_lab": "化学实验室",
        "biology_lab": "生物实验室",
        "new_lab": "新型实验室",
        "library": "图书室",
        "office": "办公室",
        "function_room": "功能室",
    }
    for k, zh in keys.items():
        assert RULES.label(k) == zh and RULES.label(k, "en")
    assert {"corridor", "toilet", "other"} <= set(RULES.types)


def test_bad_rules_file_names_line_and_field(tmp_path: Path) -> None:
    p = tmp_path / "rules.yaml"
    p.write_text(
        "types:\n  office: {zh: 办公室, en: Office}\n  other: {zh: 其他, en: Other}\n"
        "rules:\n  - {id: r1, type: office, name: ['(unclosed']}\n  - {id: r2, type: lab, name: [x]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        load_rules(p)
    text = str(exc.value)
    assert f"{p}:5:" in text and "bad regular expression" in text
