"""Room facts are not exclusive, and designations are explicit (twin.indicators.room_facts)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from twin.indicators import load_indicators
from twin.indicators.compute import room_counts
from twin.indicators.inputs import ManualInputs, RoomInput
from twin.indicators.room_facts import campus_room_facts
from twin.model import Building, Campus, Evidence, Space, Storey


def _space(number: str, room_type: str, **kw: Any) -> Space:
    space = Space(
        f"g-{number}", number, "教室", room_type=room_type, evidence=[Evidence("r", "LongName", "教室")]
    )
    for k, v in kw.items():
        setattr(space, k, v)
    return space


def _campus(spaces: list[Space]) -> Campus:
    return Campus(
        "c1", "测试学校", "IFC4", [Building("b", "楼", "c1", "c1.ifc", [Storey("s", "1F", 0.0, "b", spaces)])]
    )


PROJECTOR = {
    "global_id": "p1",
    "ifc_class": "IfcAudioVisualAppliance",
    "predefined_type": "PROJECTOR",
    "name": "投影仪",
}
CAMERA = {
    "global_id": "k1",
    "ifc_class": "IfcAudioVisualAppliance",
    "predefined_type": "CAMERA",
    "name": "摄像机",
}


def test_flags_and_designations_from_ifc_pset_classification_and_inputs() -> None:
    cfg = load_indicators()
    campus = _campus(
        [
            _space("101", "general_classroom", equipment_info=[PROJECTOR]),  # homeroom + multimedia
            _space(
                "102",
                "general_classroom",
                psets={"CampusTwin_Room": {"Designation": "智慧教室", "HasRecordingSystem": True}},
            ),
            _space("103", "physics_lab", classifications=["新型实验室"]),
            _space("104", "smart_classroom", equipment_info=[CAMERA]),  # inferred only: a suggestion
            _space("105", "general_classroom", equipment_info=[PROJECTOR]),  # projector removed by inputs
            _space("106", "general_classroom", long_name="VR教室"),  # typed 普通教室 by the rules
            _space("107", "general_classroom", long_name="人工智能教室"),
            _space("108", "general_classroom", long_name="AVR机房"),  # not VR
        ]
    )
    inputs = ManualInputs(
        rooms=[
            RoomInput(
                school="c1",
                room="105",
                equipment={"projector": False, "computers": True},
                designations=["new_lab"],
                entered_by="陈工",
                entered_at=dt.date(2026, 9, 10),
                source="设备台账",
            )
        ]
    )
    facts = {r.room_number: r for r in campus_room_facts(campus, cfg, inputs)}
    assert facts["101"].flags["projector"].startswith("IFC IfcAudioVisualAppliance p1")
    assert facts["102"].designations == {"smart_classroom": "pset CampusTwin_Room.Designation=智慧教室"}
    assert "recording" in facts["102"].flags
    assert facts["103"].designations == {"new_lab": "classification 新型实验室"}
    assert facts["104"].designations == {} and facts["104"].suggestions[0].startswith(
        "智慧教室 Smart classroom?"
    )
    assert set(facts["105"].flags) == {"computers"} and "new_lab" in facts["105"].designations
    assert facts["106"].suggestions == ["新型实验室 New-type lab (5G/VR/AI)? named '106 VR教室'"]
    assert facts["107"].suggestions[0].startswith("新型实验室") and facts["108"].suggestions == []
    counts = room_counts([f for n, f in facts.items() if n <= "105"], cfg)
    assert counts["homerooms"] == ["101", "102", "104", "105"]
    assert counts["multimedia_classrooms"] == ["101"]  # 101 is both a homeroom and multimedia
    assert counts["recording_classrooms"] == ["102", "104"]  # pset flag; camera element
    assert counts["smart_classrooms"] == ["102"] and counts["new_labs"] == ["103", "105"]
