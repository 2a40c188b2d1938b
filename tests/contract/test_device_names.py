"""Friendly names ↔ device ids: always a valid id, deterministic, and reversible."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from contract.device_names import device_id, device_name
from contract.telemetry import ID_PATTERN


def test_examples() -> None:
    assert device_id("A-201-occ") == "A-201-occ"  # valid ids stay as they are
    assert device_id("bldA/c308_env") == "bldA.c308_env"
    assert device_id("c308 env") == "c308:20env"
    assert device_id("a.b") == "a:2eb"  # '.' is escaped, so '.' in an id always meant '/'
    assert device_id("三楼") == "u:-:e4:b8:89:e6:a5:bc"


@given(st.text(min_size=1, max_size=10))  # ≤ 10 characters always fit 128 escaped
def test_any_name_gives_a_valid_id_that_gives_the_name_back(name: str) -> None:
    dev = device_id(name)
    assert re.match(ID_PATTERN, dev), dev
    assert device_id(name) == dev
    assert device_name(dev) == name


@given(st.text(min_size=40, max_size=200))
def test_long_names_still_give_valid_distinct_ids(name: str) -> None:
    dev = device_id(name)
    assert re.match(ID_PATTERN, dev) and len(dev) <= 128, dev
    assert device_id(name + "x") != dev
