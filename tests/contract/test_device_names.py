"""Friendly names ↔ device ids: always a valid id, deterministic, and reversible."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from contract.device_names import device_id, device_name, is_device_id
from contract.telemetry import ID_PATTERN, Quality, Reading


def test_examples() -> None:
    assert device_id("A-201-occ") == "A-201-occ"  # valid ids stay as they are
    assert device_id("bldA/c308_env") == "bldA.c308_env"
    assert device_id("c308 env") == "c308:20env"
    assert device_id("a.b") == "a:2eb"  # '.' is escaped, so '.' in an id always meant '/'
    assert device_id("三楼") == "三楼"  # readable in the campus's own script
    assert device_id("教室 101") == "教室:20101"
    assert device_id("教学楼/三楼#2+") == "教学楼.三楼:232:2b"
    assert device_id("#1") == "u:-:231"
    assert re.match(ID_PATTERN, device_id("bldA/c308 env"))  # ASCII names keep their ASCII ids


def test_a_unicode_device_id_is_a_valid_reading_and_no_site_id() -> None:
    r = Reading(
        site="s1",
        agent="gw1",
        device="教室101",
        point="co2",
        quantity="co2",
        value=812.0,
        unit="ppm",
        ts=1_795_395_600_000_000_000,
        quality=Quality.GOOD,
    )
    assert r.device == "教室101"
    assert not re.match(ID_PATTERN, "教室101")  # sites, agents, points stay ASCII (topic levels)
    assert not is_device_id("教室 101") and not is_device_id("_x") and not is_device_id("x" * 129)


@given(st.text(min_size=1, max_size=10))  # ≤ 10 characters always fit 128 escaped
def test_any_name_gives_a_valid_id_that_gives_the_name_back(name: str) -> None:
    dev = device_id(name)
    assert is_device_id(dev), dev
    assert device_id(name) == dev
    assert device_name(dev) == name


@given(st.text(min_size=40, max_size=200))
def test_long_names_still_give_valid_distinct_ids(name: str) -> None:
    dev = device_id(name)
    assert is_device_id(dev) and len(dev) <= 128, dev
    assert device_id(name + "x") != dev


def test_ingest_accepts_readable_ids_and_tags_the_display_name() -> None:
    """A Zigbee2MQTT sensor named `三楼 走廊` arrives as `三楼:20走廊` (stable, reversible) and is
    stored with its display name as the `name` tag; `教室101` needs no tag."""
    from contract.bindings import BindingIndex
    from contract.telemetry import decode_batch, decode_rows, encode_row_values, encode_rows_batch
    from ingest.enrich import RoomTagTable

    ts = 1_795_395_600_000_000_000
    rows = [
        encode_row_values(dev, "co2", "co2", 812.0, "ppm", ts, Quality.GOOD, None)
        for dev in ("教室101", device_id("三楼 走廊"))
    ]
    payload = encode_rows_batch("s1", "gw1", 1, ts, rows)
    assert [r[0] for r in decode_rows(payload).rows] == ["教室101", "三楼:20走廊"]
    assert [r.device for r in decode_batch(payload).readings] == ["教室101", "三楼:20走廊"]
    table = RoomTagTable(BindingIndex())
    assert table[("s1", "三楼:20走廊", "co2")] == {"name": "三楼 走廊"}
    assert table[("s1", "教室101", "co2")] == {}
