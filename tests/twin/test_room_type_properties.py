"""Room types own their properties (twin/rules/room_types.yaml): the standards rules name
groups or types from there, and a type no environment rule names must say why."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.school_time import load_school_time
from contract.yamlio import ConfigError
from twin.rooms import RoomTypeRules, load_rules
from twin.standards import DEFAULT_STANDARDS, load_standards


def _named_by() -> dict[str, list[str]]:
    """Type → the rules that name it (rules without room_types apply to every room and name none)."""
    out: dict[str, list[str]] = {k: [] for k in load_rules().types}
    for r in load_standards().rules:
        for t in r.applies.room_types or []:
            out[t].append(r.id)
    return out


def test_every_room_type_is_judged_or_says_why_not() -> None:
    types = load_rules()
    for key, rules in _named_by().items():
        why = types.prop(key, "judged_by_none_because")
        if rules:
            assert why is None, f"{key} is judged by {rules} but says judged_by_none_because: {why}"
        else:
            assert why, f"room type {key!r} is judged by no environment rule: add it to a group or say why"


def test_teaching_types_share_every_teaching_rule_and_have_class_time() -> None:
    named = _named_by()
    teaching = load_rules().groups()["teaching"]
    assert "science_lab" in teaching and "music_room" in teaching
    for key in teaching:
        assert named[key] == named["general_classroom"], key  # 理化生实验室 too: daily CO₂, lux, noise …
        assert load_school_time().use_for(key).class_time, key


def test_office_temperature_rules_say_why_they_never_apply() -> None:
    """An office has no class time: the temperature/humidity rules naming it are not_applicable
    with the reason 该房间无上课时间 / room has no class time — never a silent gap."""
    import numpy as np

    from twin.standards.engine import Engine
    from twin.standards.evaluator import Series, Status

    t0 = 1_794_758_400 * 10**9  # 2026-11-16 00:00 UTC+8, a Monday
    ts = t0 + np.arange(0, 86_400, 60, dtype=np.int64) * 10**9
    series = [Series("t", "temperature", ts, np.full(len(ts), 30.0), "wall")]
    got = {v.rule_id: v for v in Engine().evaluate_room("office", series, t0, t0 + 86_400 * 10**9)}
    v = got["gbt18883-temperature-summer"]
    assert (
        v.status is Status.NOT_APPLICABLE and v.reason is not None and v.reason.en == "room has no class time"
    )


def test_unknown_room_type_in_a_rule_is_refused_at_file_line_col(tmp_path: Path) -> None:
    text = DEFAULT_STANDARDS.read_text(encoding="utf-8")
    p = tmp_path / "standards.yaml"
    p.write_text(
        text.replace("room_types: [teaching]", "room_types: [teaching, music_rom]", 1), encoding="utf-8"
    )
    line = next(i for i, ln in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if "music_rom" in ln)
    with pytest.raises(ConfigError) as exc:
        load_standards(p)
    msg = str(exc.value)
    assert f"{p}:{line}:" in msg and "unknown room type or group 'music_rom'" in msg and "teaching" in msg


def test_a_new_type_inherits_with_like_and_cycles_are_refused() -> None:
    doc = load_rules().model_dump()
    doc["types"]["dance_room"] = {"zh": "舞蹈教室", "en": "Dance room", "like": "music_room"}
    rules = RoomTypeRules.model_validate(doc)
    assert rules.groups_of("dance_room") == ["teaching"]
    assert "dance_room" in (rules.expand(["teaching"]) or [])
    doc["types"]["general_classroom"]["like"] = "music_room"
    with pytest.raises(ValueError, match="circular"):
        RoomTypeRules.model_validate(doc)
