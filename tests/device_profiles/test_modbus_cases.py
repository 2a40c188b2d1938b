"""Data-driven Modbus cases: tests/cases/modbus/<profile>/ — a register dump as the device
answers it (`registers: {table: {address: word}}`) → the readings the agent publishes
(`expect: [point, quantity, value, unit, quality]`, canonical unit, rounded to resolution).

Decoding is the profile codec the poller uses (BlockDecoder), the samples carry what the
poller gives them (unit, valid range, the point's resolution), and the agent's normaliser
makes readings. Every profile of the library must have a case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from contract.telemetry import Quality
from contract.yamlio import load_yaml, to_plain
from device_profiles.codec import BlockDecoder
from device_profiles.loader import load_library
from device_profiles.schema import RawType
from edge_agent.normalise import Normaliser
from edge_agent.samples import Sample
from tests.support.cases import load_cases

CASE_DIRS = [c.dir for c in load_cases("modbus")]
TS = 1_795_395_600_000_000_000


def readings_from_dump(case: dict[str, Any]) -> list[list[Any]]:
    profile = load_library()[case["profile"]]
    samples: list[Sample] = []
    for table, regs in case["registers"].items():
        points = [
            p
            for p in profile.points
            if p.table.value == table and p.quantity and p.type is not RawType.STRING
        ]
        start = min(int(a) for a in regs)
        block = np.zeros(max(int(a) for a in regs) - start + 1, dtype=np.uint16)
        for a, w in regs.items():
            block[int(a) - start] = int(w)
        for name, d in BlockDecoder(profile, points, start).decode(block).items():
            p = profile.point(name)
            assert p.quantity is not None
            value = d.value if isinstance(d.value, float) else None
            samples.append(
                Sample(
                    device="dev",
                    point=name,
                    quantity=p.quantity,
                    value=value,
                    unit=p.unit,
                    ts=TS,
                    quality=Quality.UNCERTAIN if d.reason else Quality.GOOD,
                    reason=d.reason,
                    valid_min=p.valid_min,
                    valid_max=p.valid_max,
                    resolution=p.step,
                )
            )
    readings, rejects = Normaliser("case", "gw").normalise(samples)
    assert not rejects, [r.reason for r in rejects]
    order = {p.name: i for i, p in enumerate(profile.points)}
    readings.sort(key=lambda r: order[r.point])
    return [[r.point, r.quantity, r.value, r.unit, r.quality.value] for r in readings]


@pytest.mark.parametrize("case_dir", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_modbus_case(case_dir: Path) -> None:
    case = to_plain(load_yaml(case_dir / "case.yaml"))
    assert (case_dir / "README.md").read_text(encoding="utf-8").strip()
    got = readings_from_dump(case)
    assert got == case["expect"]
    assert all(repr(v) == repr(round(v, 6)) for _, _, v, _, _ in got), "float noise left in a value"


def test_every_library_profile_has_a_case() -> None:
    assert sorted(load_library()) == [p.name for p in CASE_DIRS]
