"""The README's worked example is a real, loadable profile with the plan the README claims."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from contract.yamlio import ConfigError
from device_profiles.loader import load_profile
from device_profiles.planner import plan_profile

README = Path(__file__).resolve().parents[2] / "device_profiles" / "README.md"


def _example() -> str:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(name: example-hcho-sensor\n.*?)```", text, flags=re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_worked_example_loads_and_plans_two_reads(tmp_path: Path) -> None:
    path = tmp_path / "example-hcho-sensor.yaml"
    path.write_text(_example(), encoding="utf-8")
    profile = load_profile(path)
    assert [(r.start, r.count, r.points) for r in plan_profile(profile)] == [
        (0, 2, ("humidity", "temperature")),
        (6, 1, ("hcho",)),
    ]


def test_worked_example_typo_message_matches_readme(tmp_path: Path) -> None:
    path = tmp_path / "example-hcho-sensor.yaml"
    path.write_text(_example().replace("quantity: hcho", "quantity: hcoh"), encoding="utf-8")
    with pytest.raises(
        ConfigError,
        match=r"example-hcho-sensor.yaml:12:18: field points\[2\].quantity: Value error, unknown quantity 'hcoh'",
    ):
        load_profile(path)
    path.write_text(_example().replace("address: 0x0001", "address: 0x0000"), encoding="utf-8")
    with pytest.raises(
        ConfigError,
        match=r":11:85: field points\[1\].address: point 'temperature' overlaps point 'humidity' at holding_register 0",
    ):
        load_profile(path)
