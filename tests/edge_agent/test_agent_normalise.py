"""Normalisation: canonical units from the table, range → uncertain, report-on-change."""

from __future__ import annotations

import pytest

from contract.telemetry import Quality, encode_row
from edge_agent.normalise import ChangeFilter, Normaliser, Reject
from edge_agent.samples import Sample
from edge_agent.units import default_converter

TS = 1_763_000_000_000_000_000


def s(quantity: str, value: float | None, unit: str, **kw: object) -> Sample:
    return Sample(
        device="A-201-em",
        point=kw.pop("point", quantity),
        quantity=quantity,
        value=value,  # type: ignore[arg-type]
        unit=unit,
        ts=kw.pop("ts", TS),
        **kw,
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("quantity", "unit", "value", "expected"),
    [
        ("energy", "Wh", 12345.0, 12.345),
        ("power", "kW", 1.5, 1500.0),
        ("temperature", "°F", 122.0, 50.0),
        ("temperature", "℃", 23.4, 23.4),
        ("humidity", "%", 55.0, 55.0),
        ("pm25", "mg/m³", 0.035, 35.0),
        ("hcho", "µg/m³", 80.0, 0.08),
        ("illuminance", "lux", 320.0, 320.0),
        ("power_factor", "%", 95.0, 0.95),
        ("co2", "ppm", 812.0, 812.0),
    ],
)
def test_units_to_canonical(quantity: str, unit: str, value: float, expected: float) -> None:
    readings, rejects = Normaliser("s1", "gw-A").normalise([s(quantity, value, unit)])
    assert not rejects
    assert readings[0].value == pytest.approx(expected)
    assert readings[0].quality is Quality.GOOD


def test_percent_is_not_a_generic_unit() -> None:
    with pytest.raises(ValueError, match="no conversion"):
        default_converter().converter("co2", "%")


def test_unknown_unit_is_rejected_with_reason_not_dropped() -> None:
    readings, rejects = Normaliser("s1", "gw-A").normalise([s("co2", 1.0, "furlongs")])
    assert readings == []
    assert isinstance(rejects[0], Reject) and "no conversion from 'furlongs'" in rejects[0].reason


def test_range_in_source_unit_converted_to_uncertain() -> None:
    sample = s("temperature", 200.0, "°F", valid_min=-40.0, valid_max=185.0)  # 93.3 °C > 85 °C
    [r], _ = Normaliser("s1", "gw-A").normalise([sample])
    assert r.quality is Quality.UNCERTAIN
    assert r.reason is not None and "outside valid range -40..85 °C" in r.reason
    assert r.value == 93.3  # rounded to the catalogue resolution (0.1 °C)


def test_bad_quality_and_nan_pass_through_with_reasons() -> None:
    [a, b], _ = Normaliser("s1", "gw-A").normalise(
        [
            s("co2", None, "ppm", quality=Quality.BAD, reason="timeout after 1.0s"),
            s("co2", float("nan"), "ppm"),
        ]
    )
    assert (a.value, a.quality, a.reason) == (None, Quality.BAD, "timeout after 1.0s")
    assert b.value is None and b.quality is Quality.BAD and b.reason and "non-finite" in b.reason


def test_invalid_point_id_rejected() -> None:
    _, [rej] = Normaliser("s1", "gw-A").normalise([s("co2", 1.0, "ppm", point="bad point")])
    assert "point" in rej.reason


def test_deadband_and_max_silence() -> None:
    f = ChangeFilter({"co2": 10.0}, max_silence_ns=60 * 10**9)
    n = Normaliser("s1", "gw-A", f)
    seq = [(0, 800.0), (1, 805.0), (2, 811.0), (3, 815.0), (70, 815.0), (71, 815.0)]
    kept, _ = n.normalise([s("co2", v, "ppm", ts=TS + t * 10**9) for t, v in seq])
    assert [(r.ts - TS) // 10**9 for r in kept] == [0, 2, 70]
    assert f.suppressed_total == 3
    kept, _ = n.normalise([s("temperature", 20.0, "°C"), s("temperature", 20.0, "°C")])
    assert len(kept) == 2, "quantities without a deadband always pass"
    kept, _ = n.normalise([s("co2", None, "ppm", ts=TS + 72 * 10**9, quality=Quality.BAD, reason="timeout")])
    assert len(kept) == 1, "a bad reading is always reported"


def test_rows_fast_path_equals_encoded_readings() -> None:
    """The agent's hot path (`rows`, validating each point once) writes exactly the bytes of
    encoding `normalise`'s readings: repeated points, out-of-range, bad, non-finite, a unit to
    convert, a bad id (rejected every time) and a time outside 2000..2100 (rejected)."""
    batch = [
        s("co2", 812.0, "ppm"),
        s("temperature", 122.0, "°F", valid_min=-40.0, valid_max=185.0, resolution=0.1),
        s("energy", 12345.0, "Wh"),
        s("co2", 99999.0, "ppm"),
        s("co2", None, "ppm", quality=Quality.BAD, reason="timeout after 1.0s"),
        s("humidity", float("nan"), "%"),
        s("co2", 1.0, "ppm", point="bad point"),
        s("co2", 1.0, "ppm", ts=10),
        s("pm25", -0.0, "mg/m³"),
        s("energy", 1.5e22, "Wh"),  # exponent notation, as json writes it
        s("co2", None, "ppm", quality=Quality.BAD, reason='say "hi", 你好 \\ \n'),  # escapes, CJK
        s("temperature", 21.35, "°C", resolution=0.01),
    ]
    for _ in range(3):  # the first pass validates, later passes take the fast path
        rows, rejects = Normaliser("s1", "gw-A").rows(batch)
        readings, expected_rejects = Normaliser("s1", "gw-A").normalise(batch)
        assert rows == [encode_row(r) for r in readings]
        assert [r.reason for r in rejects] == [r.reason for r in expected_rejects]
    n = Normaliser("s1", "gw-A")
    first, _ = n.rows(batch)
    again, again_rejects = n.rows(batch)
    assert again == first and len(again_rejects) == 2
