"""Room typing regression cases (tests/cases/rooms/<case>/spaces.yaml): names as real exports
write them, each with the type the shipped rules must give it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contract.yamlio import load_yaml, to_plain
from tests.support.cases import load_cases
from twin.model import Building, Campus, Space
from twin.rooms import classify, load_rules, unmatched_names

CASES = [c.dir for c in load_cases("rooms")]


def _space(i: int, d: dict[str, Any]) -> Space:
    return Space(
        global_id=f"g{i}",
        name=d.get("name"),
        long_name=d.get("long_name"),
        description=d.get("description"),
        object_type=d.get("object_type"),
        classifications=[d["classification"]] if d.get("classification") else [],
        psets={"Pset_SpaceCommon": {"Reference": d["reference"]}} if d.get("reference") else {},
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_room_case(case: Path) -> None:
    rows = to_plain(load_yaml(case / "spaces.yaml"))
    rules = load_rules()
    got = {
        (d.get("long_name") or d.get("description") or d["name"]): classify(_space(i, d), rules)[0]
        for i, d in enumerate(rows)
    }
    want = {(d.get("long_name") or d.get("description") or d["name"]): d["expect"] for d in rows}
    assert got == want
    assert all(k in rules.types for k in want.values())


def test_unmatched_names_fold_digits_and_count() -> None:
    rules = load_rules()
    spaces = [Space(f"g{i}", str(i), n) for i, n in enumerate(["Bedroom 1", "Bedroom 2", "Laundry", "Foyer"])]
    for s in spaces:
        s.room_type, s.evidence = classify(s, rules)
    campus = Campus("c", "c", buildings=[Building("b", "b", "c", "f", spaces_without_storey=spaces)])
    assert unmatched_names(campus) == [("Bedroom #", 2), ("Laundry", 1)]
