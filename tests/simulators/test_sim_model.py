"""The physical classroom model behaves like a school: plausibility, not exact numbers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from contract.campus import CampusSpec, expand
from contract.school_time import load_school_time
from contract.yamlio import ConfigError, load_model
from simulators.classroom_model import LIGHTS_LUX, ClassroomModel, RoomInfo
from simulators.school_config import SLOT_KINDS, load_school
from simulators.timetable import slot_at

REPO = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
MIN = 60 * 10**9


def ns(y: int, mo: int, d: int, h: int, mi: int = 0) -> int:
    return int(dt.datetime(y, mo, d, h, mi, tzinfo=TZ).timestamp() * 1e9)


def classrooms(n: int = 40) -> list[RoomInfo]:
    rooms = []
    for i in range(n):
        rooms.append(
            RoomInfo(
                number=f"A-{1 + i // 10}{i % 10 + 1:02d}",
                type=("general_classroom", "smart_classroom", "physics_lab", "office")[i % 4],
                area_m2=67.5,
                width_m=9.0,
                height_m=3.9,
                orientation="S" if i % 2 == 0 else "N",
                capacity=8 if i % 4 == 3 else 45,
                floor=1 + i // 10,
            )
        )
    return rooms


def model(start: int, seed: int = 7, rooms: list[RoomInfo] | None = None) -> ClassroomModel:
    return ClassroomModel(rooms or classrooms(), start_ns=start, seed=seed, school_level="junior")


def test_timetable_slots_on_a_school_day_weekend_holiday_and_make_up_day() -> None:
    school = load_school()
    tt = school.timetable_for("junior")
    monday = dt.datetime(2026, 11, 23, 8, 10, tzinfo=TZ)
    assert SLOT_KINDS[slot_at(school, tt, monday).kind] == "lesson"
    assert slot_at(school, tt, monday).lesson_number == 1
    assert SLOT_KINDS[slot_at(school, tt, monday.replace(hour=9, minute=50)).kind] == "big_break"
    assert SLOT_KINDS[slot_at(school, tt, monday.replace(hour=13, minute=0)).kind] == "nap"
    assert slot_at(school, tt, monday.replace(hour=22)).kind == -1
    assert not slot_at(school, tt, dt.datetime(2026, 11, 28, 9, 0, tzinfo=TZ)).school_day  # Saturday
    assert not slot_at(school, tt, dt.datetime(2026, 10, 2, 9, 0, tzinfo=TZ)).school_day  # 国庆节
    assert slot_at(school, tt, dt.datetime(2026, 10, 10, 9, 0, tzinfo=TZ)).school_day  # 调休 Saturday
    # only the senior timetable has evening self-study
    senior = school.timetable_for("senior")
    assert SLOT_KINDS[slot_at(school, senior, monday.replace(hour=19, minute=30)).kind] == "evening_study"


@pytest.mark.slow  # simulates whole school days
def test_co2_rises_while_a_class_is_in_and_decays_toward_outdoor_after() -> None:
    m = model(ns(2026, 11, 23, 7, 59))
    m.advance_to(ns(2026, 11, 23, 8, 1))
    start_co2 = m.co2.copy()
    in_class = m.occupancy > 20
    closed = ~m.window_open
    m.advance_to(ns(2026, 11, 23, 8, 44))
    full = in_class & (m.occupancy > 20) & closed & ~m.window_open
    assert full.sum() >= 3, "expected several full classrooms with shut windows in lesson 1"
    assert np.all(m.co2[full] > start_co2[full] + 300), m.co2[full] - start_co2[full]
    # after school (nobody in from 17:45): CO2 falls every hour toward ~420 ppm
    m.advance_to(ns(2026, 11, 23, 18, 0))
    assert m.occupancy.sum() == 0
    prev = m.co2.copy()
    for hour in (19, 20, 21, 22, 23):
        m.advance_to(ns(2026, 11, 23, hour, 0))
        assert np.all(m.co2 <= prev + 1e-9)
        prev = m.co2.copy()
    assert np.all(m.co2 >= 420 - 1e-6)
    # mass balance: without people the excess decays exponentially at the air-change rate
    m.advance_to(ns(2026, 11, 24, 4, 0))
    assert np.all(m.co2 - 420 < 0.25 * (prev - 420) + 5)


def test_co2_equilibrium_matches_the_mass_balance() -> None:
    """A long full lesson with shut windows approaches C_out + G·N/Q from below."""
    m = model(ns(2026, 11, 23, 8, 0))
    m.advance_to(ns(2026, 11, 23, 8, 44))
    q = m.volume * 0.6 / 3600  # infiltration only
    full = (m.occupancy > 20) & ~m.window_open & ~m._fresh_air
    assert full.any()
    ceq = 420 + 1e6 * m._co2_gen[full] * m.occupancy[full] / 1000 / q[full]
    assert np.all(m.co2[full] < ceq)
    assert np.all(m.co2[full] > 420 + 0.2 * (ceq - 420))


def test_illuminance_follows_daylight_and_lights() -> None:
    m = model(ns(2026, 11, 23, 1, 0))
    m.advance_to(ns(2026, 11, 23, 2, 0))
    assert np.all(m.values["illuminance"] < 5), "night, nobody in: dark"
    assert m.outdoor.sun_elevation_rad < 0
    m.advance_to(ns(2026, 11, 23, 10, 30))  # lesson 3, sun up
    assert m.outdoor.sun_elevation_rad > 0
    lit = m.lights_on
    assert lit.any()
    assert np.all(m.values["illuminance"][lit] > 0.9 * (m.daylight_lx[lit] + 0.85 * LIGHTS_LUX))
    dark = ~m.lights_on
    np.testing.assert_allclose(m.values["illuminance"][dark], m.daylight_lx[dark], rtol=0.1, atol=1)
    # lights only with people
    assert not np.any(m.lights_on & (m.occupancy == 0))
    # a clear winter noon: south-facing rooms get the sun, north-facing do not
    south = np.array([r.orientation == "S" for r in m.rooms])
    m = model(ns(2026, 11, 29, 12, 0))
    m.advance_to(ns(2026, 11, 29, 12, 30))  # Sunday: lights off everywhere
    assert not m.lights_on.any()
    assert m.daylight_lx[south].mean() > m.daylight_lx[~south].mean()


@pytest.mark.slow  # simulates whole school days
def test_energy_is_monotonic_and_faster_while_occupied() -> None:
    m = model(ns(2026, 11, 23, 0, 0))
    last = m.values["energy"].copy()
    night_kwh = day_kwh = 0.0
    t = ns(2026, 11, 23, 0, 0)
    for _ in range(24 * 4):
        t += 15 * MIN
        m.advance_to(t)
        e = m.values["energy"]
        assert np.all(e >= last)
        hour = m.local(t).hour
        if 2 <= hour < 6:
            night_kwh += float((e - last).sum())
        if 8 <= hour < 12:
            day_kwh += float((e - last).sum())
        last = e.copy()
    assert day_kwh > 5 * night_kwh > 0


def test_summer_ac_holds_classrooms_near_26c_and_draws_power() -> None:
    m = model(ns(2026, 7, 6, 6, 0))  # a hot Monday before the summer holiday
    m.advance_to(ns(2026, 7, 6, 11, 40))
    assert m.outdoor.temperature_c > 27
    occ = m.occupancy > 20
    assert occ.any()
    assert np.all(m.temp[occ] < 28.5)
    assert np.all(m.ac_power_w[occ] > 0)
    assert np.all((m.values["humidity"] > 5) & (m.values["humidity"] <= 100))


@pytest.mark.slow  # simulates whole school days
def test_nobody_in_at_weekends_and_holidays() -> None:
    for day in ((2026, 11, 28), (2026, 10, 2), (2026, 8, 3)):
        m = model(ns(*day, 7, 0))
        for h in range(8, 18):
            m.advance_to(ns(*day, h, 30))
            assert m.occupancy.sum() == 0, day
    m = model(ns(2026, 10, 10, 7, 0))  # make-up school day
    m.advance_to(ns(2026, 10, 10, 8, 30))
    assert m.occupancy.sum() > 0


def test_noise_is_louder_in_lessons_and_breaks_than_at_night() -> None:
    m = model(ns(2026, 11, 23, 8, 0))
    m.advance_to(ns(2026, 11, 23, 8, 50))  # break
    occupied = m.occupancy > 0
    loud = m.values["noise"][occupied].mean()
    m.advance_to(ns(2026, 11, 23, 23, 0))
    assert loud > m.values["noise"].mean() + 15


@pytest.mark.slow  # simulates whole school days
def test_deterministic_for_a_seed_whatever_the_stepping() -> None:
    a, b, c = (
        model(ns(2026, 11, 23, 6, 0)),
        model(ns(2026, 11, 23, 6, 0)),
        model(ns(2026, 11, 23, 6, 0), seed=8),
    )
    end = ns(2026, 11, 23, 12, 0)
    a.advance_to(end)
    t = ns(2026, 11, 23, 6, 0)
    while t < end:
        t += 7 * MIN + 13 * 10**9
        b.advance_to(min(t, end))
    c.advance_to(end)
    for q in ("co2", "temperature", "humidity", "illuminance", "energy", "noise", "pm25"):
        np.testing.assert_array_equal(a.values[q], b.values[q], err_msg=q)
    assert not np.array_equal(a.values["co2"], c.values["co2"])


def test_demo_campus_model_covers_every_room() -> None:
    spec = load_model(CampusSpec, REPO / "examples/campus/demo-campus.yaml")
    rooms = expand(spec)
    m = ClassroomModel.from_campus(spec, rooms, start_ns=ns(2026, 11, 23, 9, 0))
    m.advance_to(ns(2026, 11, 23, 10, 30))
    assert set(m.index) == {r.number for r in rooms}
    for q in ("co2", "temperature", "humidity", "illuminance", "pm25", "pm10", "noise", "energy"):
        assert np.all(np.isfinite(m.values[q])), q
    assert m.value("B-101", "co2") >= 380


def test_school_config_errors_name_file_line_and_field(tmp_path: Path) -> None:
    text = (REPO / "contract/school_time.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "school_time.yaml"
    bad.write_text(
        text.replace(
            '{start: "08:00", end: "08:40", kind: lesson}', '{start: "08:00", end: "08:40", kind: lessen}', 1
        )
    )
    with pytest.raises(ConfigError) as err:
        load_school_time(bad)  # the bells the simulators follow (one schema with the standards)
    assert f"{bad}:" in str(err.value) and "kind" in str(err.value)
