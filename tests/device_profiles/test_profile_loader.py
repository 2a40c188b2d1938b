"""Profile loading: the library is valid, and mistakes name file:line:col and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.yamlio import ConfigError
from device_profiles.loader import load_library, load_profile
from device_profiles.planner import plan_profile
from device_profiles.schema import Table

EXPECTED = {
    "classroom-air-monitor",
    "renke-rs-ws-n01",
    "renke-rs-co2-n01",
    "renke-rs-gz-n01",
    "renke-rs-pm-n01",
    "renke-rs-zs-n01",
    "chint-ddsu666",
    "chint-dtsu666",
    "eastron-sdm120",
    "eastron-sdm630",
}

HEAD = """name: test-sensor
manufacturer: ACME
model: T-1
source: {title: ACME T-1 manual, url: https://example.com/t1.pdf}
"""


def _write(tmp_path: Path, body: str, name: str = "t.yaml") -> Path:
    path = tmp_path / name
    path.write_text(HEAD + body, encoding="utf-8")
    return path


def test_library_has_every_named_profile_with_a_source() -> None:
    lib = load_library()
    assert set(lib) >= EXPECTED
    for profile in lib.values():
        assert profile.source.title and profile.points
        assert plan_profile(profile)  # every library profile is plannable
    air = lib["classroom-air-monitor"]
    assert {p.quantity for p in air.points} >= {
        "temperature",
        "humidity",
        "co2",
        "pm25",
        "pm10",
        "noise",
        "illuminance",
        "tvoc",
    }


def test_modicon_and_address_base() -> None:
    lib = load_library()
    sdm = lib["eastron-sdm120"]
    assert sdm.protocol_address(sdm.point("voltage")) == 0
    assert sdm.protocol_address(sdm.point("energy_total")) == 342  # 30343 → 0x0156
    assert sdm.point("voltage").table is Table.INPUT_REGISTER


def test_one_based_addresses(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "defaults: {address_base: 1}\npoints:\n"
        "  - {name: t, quantity: temperature, table: holding_register, address: 1, type: int16}\n"
        "  - {name: h, quantity: humidity, table: holding_register, address: 2, address_base: 0}\n",
    )
    prof = load_profile(path)
    assert [prof.protocol_address(p) for p in prof.points] == [0, 2]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "points:\n  - {name: t, quantity: temprature, table: holding_register, address: 0}\n",
            "t.yaml:6:15: field points[0].quantity: Value error, unknown quantity 'temprature'",
        ),
        (
            "points:\n  - name: t\n    quantity: temperature\n    table: holding_register\n    address: 0\n    type: float33\n",
            "t.yaml:10:5: field points[0].type: Input should be 'bit'",
        ),
        (
            "points:\n  - {name: t, quantity: temperature, table: holding_register, address: 0, type: float32}\n"
            "  - {name: h, quantity: humidity, table: holding_register, address: 1}\n",
            "t.yaml:7:60: field points[1].address: point 'h' overlaps point 't' at holding_register 1",
        ),
        (
            "points:\n  - {name: t, quantity: temperature, table: holding_register, address: 0}\n"
            "  - {name: t, quantity: humidity, table: holding_register, address: 5}\n",
            "t.yaml:7:6: field points[1].name: duplicate point name 't' (first at points[0])",
        ),
        (
            "points:\n  - {name: t, quantity: temperature, table: input_register, address: '40001'}\n",
            "Modicon notation but table is input_register",
        ),
        (
            "points:\n  - {name: t, quantity: temperature, table: coil, address: 0, type: int16}\n",
            "a coil holds single bits",
        ),
        (
            "points:\n  - {name: t, quantity: temperature, table: holding_register, address: 0, colour: red}\n",
            "t.yaml:6:75: field points[0].colour: unknown field (check spelling)",
        ),
    ],
)
def test_errors_name_file_line_and_field(tmp_path: Path, body: str, expected: str) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    assert expected in str(info.value), str(info.value)
    assert str(path) in str(info.value)


def test_bits_may_share_a_register_but_not_a_bit(tmp_path: Path) -> None:
    ok = _write(
        tmp_path,
        "points:\n  - {name: a, quantity: status, table: holding_register, address: 3, type: bit, bit: 0}\n"
        "  - {name: b, quantity: status, table: holding_register, address: 3, type: bit, bit: 1}\n",
    )
    assert len(load_profile(ok).points) == 2
    bad = _write(
        tmp_path,
        "points:\n  - {name: a, quantity: status, table: holding_register, address: 3, type: bit, bit: 1}\n"
        "  - {name: b, quantity: status, table: holding_register, address: 3, type: bit, bit: 1}\n",
        "bad.yaml",
    )
    with pytest.raises(ConfigError, match="overlaps point 'a' at holding_register 3 bit 1"):
        load_profile(bad)


def test_library_reports_duplicates_and_every_broken_file(tmp_path: Path) -> None:
    body = "points:\n  - {name: t, quantity: temperature, table: holding_register, address: 0}\n"
    _write(tmp_path, body, "a.yaml")
    _write(tmp_path, body, "b.yaml")
    _write(tmp_path, "points: []\n", "c.yaml")
    with pytest.raises(ConfigError) as info:
        load_library([tmp_path])
    text = str(info.value)
    assert "b.yaml: profile name 'test-sensor' is already defined in" in text
    assert "c.yaml:5:1: field points" in text
