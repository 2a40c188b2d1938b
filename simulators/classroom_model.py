"""The physical classroom model: many rooms at once, as numpy arrays, on a fixed time grid.

Each step (default 60 s of simulated time) the bell schedule gives occupancy per room; then
- CO2, moisture, PM and formaldehyde follow the well-mixed mass balance
  V·dC/dt = Q·(C_out − C) + S, solved exactly over the step (stable for any ventilation);
- temperature follows a lumped RC model with people/lights/equipment/solar gains and an AC
  with a proportional controller (explicit Euler: the room time constant is hours);
- illuminance is daylight (sun, sky, facade orientation) plus lights switched with occupancy;
- energy meters integrate lighting + AC + projector + equipment power, so kWh never decreases.

State lives on a grid aligned to the epoch, and every dice is keyed by (seed, room, day,
slot) or (seed, step index): the values at a given simulated time depend on the seed and the
start time only, never on how often `advance_to` was called.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from contract.campus import CampusSpec, Room
from simulators.climate import LUMINOUS_EFFICACY_LM_PER_W, Outdoor, outdoor_at, rh_from_mixing
from simulators.school_config import SLOT_KINDS, SchoolConfig, load_school
from simulators.timetable import NO_SLOT, SlotState, bells_of, mix64, slot_at, stable_seed

F = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

AZIMUTH = {"N": 0.0, "E": math.pi / 2, "S": math.pi, "W": 3 * math.pi / 2}
AIR_RHO = 1.2  # kg/m³
AIR_CP = 1005.0  # J/(kg·K)
INFILTRATION_ACH = 0.6  # closed windows, typical older school building
WINDOW_OPEN_ACH = 5.0  # opened casements in a ~250 m³ room
FRESH_AIR_M3H_PER_SEAT = 30.0  # GB/T 18883 / GB 50736 design rate, system sized by capacity
HEAT_CAPACITY_J_PER_K_M2 = 40_000.0  # air + furniture + a share of the slab, per m² of floor
ENVELOPE_U = 1.6  # W/(m²·K), wall + single-glazed windows averaged over the facade
PERSON_SENSIBLE_W = 65.0
PERSON_MOISTURE_G_S = 40.0 / 3600 * 0.5  # 40 g/h, half buffered by surfaces/furniture
PERSON_PM25_UG_S = 0.2e3 / 3600  # resuspension and skin flakes: ~0.2 mg/h PM2.5
PERSON_PM10_UG_S = 2.0e3 / 3600  # ~2 mg/h PM10
DEPOSITION_PM25_S = 0.2 / 3600
DEPOSITION_PM10_S = 0.8 / 3600
PENETRATION_CLOSED = 0.8
FRESH_AIR_FILTER_PASS = 0.3  # share of outdoor PM a fresh-air system's filter lets through
HCHO_EMISSION_MG_S_M2 = 0.015 / 3600  # furniture/boards, mg/(h·m² floor)
LIGHTING_W_PER_M2 = 8.0  # LED, under the GB 50034 limit of 9 W/m² for classrooms
LIGHTS_LUX = 350.0
DAYLIGHT_FACTOR = 0.04
DIRECT_SUN_TRANSMISSION = 0.004  # curtains/blinds drawn against direct sun
WINDOW_TO_FLOOR = 0.2  # GB 50099: classroom windows ≥ 1/5 of the floor
SHGC = 0.35
AC_COOL_SETPOINT = 26.0
AC_HEAT_SETPOINT = 20.0
AC_CAPACITY_W_PER_M2 = 150.0
AC_COP = 3.2
AC_FAN_W = 60.0
STANDBY_W = 25.0
BACKGROUND_NOISE_DB = 33.0


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """What the model needs of a room; built from `contract.campus.Room`."""

    number: str
    type: str
    area_m2: float
    width_m: float
    height_m: float
    orientation: str
    capacity: int
    floor: int

    @classmethod
    def of(cls, room: Room) -> RoomInfo:
        return cls(
            number=room.number,
            type=room.type,
            area_m2=room.area_m2,
            width_m=room.width_m,
            height_m=room.height_m,
            orientation=room.orientation,
            capacity=room.capacity,
            floor=room.floor,
        )


class ClassroomModel:
    """State of many rooms; `advance_to(t_ns)` steps the grid, `values` reads the sensors."""

    def __init__(
        self,
        rooms: Sequence[RoomInfo],
        *,
        start_ns: int,
        seed: int = 0,
        school_level: str = "junior",
        timezone: str = "Asia/Shanghai",
        school: SchoolConfig | None = None,
        step_s: float = 60.0,
    ) -> None:
        if not rooms:
            raise ValueError("the model needs at least one room")
        if step_s <= 0 or step_s > 600:
            raise ValueError(f"step_s must be in (0, 600] s, got {step_s}")
        self.school = school or load_school()
        self.tz = ZoneInfo(timezone)
        self.seed = seed
        self.level = school_level
        self.timetable = self.school.timetable_for(school_level)
        self.bells = bells_of(self.timetable)
        self.step_ns = int(step_s * 1e9)
        self.step_s = self.step_ns / 1e9
        self.rooms = list(rooms)
        self.index = {r.number: i for i, r in enumerate(self.rooms)}
        n = len(self.rooms)
        self.n = n

        behaviours = [self.school.behaviour_for(r.type) for r in self.rooms]
        names = sorted({b.name for b in behaviours})
        by_name = {b.name: b for b in behaviours}
        self._b_idx = np.array([names.index(b.name) for b in behaviours])
        occ = np.zeros((len(names), len(SLOT_KINDS) + 1))  # last column: no slot
        noise = np.full((len(names), len(SLOT_KINDS) + 1), BACKGROUND_NOISE_DB)
        for i, name in enumerate(names):
            for k, kind in enumerate(SLOT_KINDS):
                occ[i, k] = by_name[name].occupancy.get(kind, 0.0)
                noise[i, k] = by_name[name].noise_db.get(kind, 45.0)
        self._occ_table, self._noise_table = occ, noise
        self._away_prob = np.array([b.away_prob for b in behaviours])
        self._use_prob = np.array([b.use_prob if b.use_prob is not None else 1.0 for b in behaviours])
        self._is_lab = np.array([b.name in ("lab", "computer_room") or b.use_prob < 1.0 for b in behaviours])
        self._adults = np.array([b.adults_in_lesson for b in behaviours], dtype=np.float64)
        self._adult_only = np.array([b.adult_only for b in behaviours])
        self._projector_w = np.array([b.projector_w for b in behaviours])
        self._equipment_w = np.array([b.equipment_w for b in behaviours])
        self._equip_per_person = np.array([b.equipment_per_person for b in behaviours])
        self._fresh_air = np.array([b.fresh_air for b in behaviours])

        self.capacity = np.array([max(r.capacity, 0) for r in self.rooms], dtype=np.float64)
        self.area = np.array([r.area_m2 for r in self.rooms])
        self.volume = self.area * np.array([max(r.height_m - 0.4, 2.4) for r in self.rooms])
        facade = np.array([r.width_m for r in self.rooms]) * np.array([r.height_m for r in self.rooms])
        self.window_m2 = self.area * WINDOW_TO_FLOOR
        self._azimuth = np.array([AZIMUTH.get(r.orientation, math.pi) for r in self.rooms])
        self._ua_env = ENVELOPE_U * facade
        self._heat_cap = HEAT_CAPACITY_J_PER_K_M2 * self.area
        self._ac_cap = AC_CAPACITY_W_PER_M2 * self.area
        self._ac_gain = self._ac_cap / 2.0  # full power at 2 K from the set point
        self._df = DAYLIGHT_FACTOR * np.where(np.array([r.floor for r in self.rooms]) <= 1, 0.8, 1.0)
        self._keys = np.array([stable_seed(seed, r.number) for r in self.rooms], dtype=np.uint64)
        static = mix64(self._keys, 0xA11)
        self._lights_habit = static < 0.35  # rooms where lights go on with people regardless of sun
        self._lights_lux = LIGHTS_LUX * (0.85 + 0.3 * mix64(self._keys, 0xA12))
        self._co2_offset = 25.0 * (mix64(self._keys, 0xA13) - 0.5)  # NDIR calibration offset
        self._co2_gen = np.where(
            self._adult_only, self.school.co2_lps_adult, self.school.co2_lps(school_level)
        )  # L/s per person

        # state on the grid; start from the outdoor air at a grid point a bit before start_ns
        self.t_ns = (start_ns // self.step_ns) * self.step_ns
        out = self._outdoor(self.t_ns)
        self.co2 = np.full(n, out.co2_ppm) + 30.0
        self.temp = np.full(n, out.temperature_c + 1.0)
        self.mixing = np.full(n, out.mixing_g_per_kg)
        self.pm25 = np.full(n, out.pm25 * PENETRATION_CLOSED)
        self.pm10 = np.full(n, out.pm10 * PENETRATION_CLOSED * 0.6)
        self.hcho = np.full(n, 0.03)
        self.energy_kwh = 500.0 + 20_000.0 * mix64(self._keys, 0xE0)
        self.steps = 0
        self._dice_key: tuple[int, int] = (-1, -2)
        self._dice: F = np.zeros((5, n))
        self.outdoor = out
        self.slot = self._slot(self.t_ns)
        self.occupancy = np.zeros(n)
        self.window_open = np.zeros(n, dtype=bool)
        self.lights_on = np.zeros(n, dtype=bool)
        self.projector_on = np.zeros(n, dtype=bool)
        self.ac_power_w = np.zeros(n)
        self.power_w = np.full(n, STANDBY_W)
        self.daylight_lx = np.zeros(n)
        self.noise_db = np.full(n, BACKGROUND_NOISE_DB)
        self.values: dict[str, F] = {}
        self._measure()

    # ------------------------------------------------------------------ construction helpers

    @classmethod
    def from_campus(
        cls, spec: CampusSpec, rooms: Sequence[Room], *, start_ns: int, step_s: float = 60.0
    ) -> ClassroomModel:
        return cls(
            [RoomInfo.of(r) for r in rooms],
            start_ns=start_ns,
            seed=spec.seed,
            school_level=spec.school_level,
            timezone=spec.timezone,
            step_s=step_s,
        )

    def local(self, t_ns: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(t_ns / 1e9, tz=self.tz)

    def _outdoor(self, t_ns: int) -> Outdoor:
        return outdoor_at(self.school.climate, self.local(t_ns), self.seed)

    def _slot(self, t_ns: int) -> SlotState:
        return slot_at(self.school, self.bells, self.local(t_ns))

    # ------------------------------------------------------------------ stepping

    def advance_to(self, t_ns: int) -> int:
        """Step the grid up to `t_ns` (never backwards); returns the number of steps taken."""
        taken = 0
        while self.t_ns + self.step_ns <= t_ns:
            self._step()
            taken += 1
        return taken

    def _slot_dice(self, day: int, ordinal: int) -> F:
        """Per-room dice of one slot of one day (5 × rooms), rolled once per slot."""
        if self._dice_key != (day, ordinal):
            self._dice_key = (day, ordinal)
            self._dice = np.stack([mix64(self._keys, day, ordinal, i) for i in range(1, 6)])
        return self._dice

    def _step(self) -> None:
        dt_s = self.step_s
        t_ns = self.t_ns + self.step_ns
        local = self.local(t_ns)
        out = outdoor_at(self.school.climate, local, self.seed)
        slot = slot_at(self.school, self.bells, local)
        day = local.date().toordinal()
        col = slot.kind if slot.kind != NO_SLOT else len(SLOT_KINDS)
        is_lesson = slot.kind == SLOT_KINDS.index("lesson")
        teaching = slot.kind in (
            SLOT_KINDS.index("lesson"),
            SLOT_KINDS.index("morning_study"),
            SLOT_KINDS.index("evening_study"),
        )

        # occupancy: the bell, then per-room dice for labs in use / classes away
        frac = self._occ_table[self._b_idx, col]
        dice = self._slot_dice(day, slot.ordinal)
        if is_lesson:
            frac = np.where(self._is_lab & (dice[0] >= self._use_prob), 0.0, frac)
            frac = np.where(~self._is_lab & (dice[0] < self._away_prob), 0.0, frac)
        jitter = 0.92 + 0.08 * dice[1]
        persons = np.floor(self.capacity * frac * jitter + dice[2])
        persons = np.where((persons > 0) & teaching, persons + self._adults, persons)
        occupied = persons > 0

        # windows: mostly shut when AC weather, opened in breaks, shut after school
        ac_weather = out.temperature_c > 27.0 or out.temperature_c < 12.0
        p_open = np.where(occupied, 0.12 if ac_weather else 0.6, 0.04)
        if slot.kind in (SLOT_KINDS.index("break"), SLOT_KINDS.index("big_break")):
            p_open = np.minimum(p_open + 0.25, 0.95)
        window_open = dice[3] < p_open
        fresh_on = self._fresh_air & occupied
        q = self.volume * np.where(window_open, WINDOW_OPEN_ACH, INFILTRATION_ACH) / 3600.0
        q_fresh = np.where(fresh_on, FRESH_AIR_M3H_PER_SEAT * self.capacity / 3600.0, 0.0)
        q_total = q + q_fresh
        lam = q_total / self.volume
        decay = np.exp(-lam * dt_s)

        # CO2: C_eq = C_out + G·N / Q (ppm), exact over the step
        gen_m3s = self._co2_gen * persons / 1000.0
        co2_eq = out.co2_ppm + 1e6 * gen_m3s / q_total
        self.co2 = co2_eq + (self.co2 - co2_eq) * decay

        # daylight on the desk and lights
        cos_inc = math.cos(out.sun_elevation_rad) * np.cos(out.sun_azimuth_rad - self._azimuth)
        direct_on_facade = out.direct_normal_lx * np.clip(cos_inc, 0.0, None)
        if out.sun_elevation_rad <= 0:
            direct_on_facade = np.zeros(self.n)
        daylight = self._df * out.diffuse_horizontal_lx + DIRECT_SUN_TRANSMISSION * direct_on_facade
        lights_on = occupied & (self._lights_habit | (daylight < 1.5 * LIGHTS_LUX))
        projector_on = occupied & teaching & (dice[4] < 0.8)
        projector_on &= self._projector_w > 0

        # heat balance with AC (cooling to 26 °C / heating to 20 °C while occupied)
        light_w = np.where(lights_on, LIGHTING_W_PER_M2 * self.area, 0.0)
        proj_w = np.where(projector_on, self._projector_w, 0.0)
        per_person = np.where(self.capacity > 0, np.minimum(persons / np.maximum(self.capacity, 1), 1.0), 0.0)
        equip_w = np.where(
            occupied, np.where(self._equip_per_person, self._equipment_w * per_person, self._equipment_w), 0.0
        )
        solar_w = (
            (direct_on_facade + 0.5 * out.diffuse_horizontal_lx)
            / LUMINOUS_EFFICACY_LM_PER_W
            * self.window_m2
            * SHGC
        )
        gains = persons * PERSON_SENSIBLE_W + light_w + proj_w + equip_w + solar_w
        ua = self._ua_env + AIR_RHO * AIR_CP * q_total
        cooling = (
            occupied & (self.temp > AC_COOL_SETPOINT) & ((out.temperature_c > 24.0) | (self.temp > 28.0))
        )
        heating = occupied & (out.temperature_c < 12.0) & (self.temp < AC_HEAT_SETPOINT)
        cool_w = np.where(
            cooling, np.clip(self._ac_gain * (self.temp - AC_COOL_SETPOINT), 0, self._ac_cap), 0.0
        )
        heat_w = np.where(
            heating, np.clip(self._ac_gain * (AC_HEAT_SETPOINT - self.temp), 0, self._ac_cap), 0.0
        )
        ac_on = cooling | heating
        self.temp = (
            self.temp
            + dt_s * (ua * (out.temperature_c - self.temp) + gains - cool_w + heat_w) / self._heat_cap
        )

        # moisture (mixing ratio): ventilation + people, condensation on the AC coil
        air_kg_s = AIR_RHO * q_total
        w_eq = out.mixing_g_per_kg + PERSON_MOISTURE_G_S * persons / air_kg_s
        self.mixing = w_eq + (self.mixing - w_eq) * decay
        coil = np.where(cooling, np.exp(-dt_s / 1800.0), 1.0)
        self.mixing = np.where(cooling & (self.mixing > 9.5), 9.5 + (self.mixing - 9.5) * coil, self.mixing)

        # particles: penetration (windows/filters), deposition, resuspension by people
        pen = np.where(window_open, 1.0, PENETRATION_CLOSED)
        src_in = q * pen + q_fresh * FRESH_AIR_FILTER_PASS
        for attr, c_out, dep, per_person_src in (
            ("pm25", out.pm25, DEPOSITION_PM25_S, PERSON_PM25_UG_S),
            ("pm10", out.pm10, DEPOSITION_PM10_S, PERSON_PM10_UG_S),
        ):
            k = lam + dep
            c_eq = (src_in * c_out + per_person_src * persons) / (self.volume * k)
            setattr(self, attr, c_eq + (getattr(self, attr) - c_eq) * np.exp(-k * dt_s))
        hcho_eq = 0.008 + HCHO_EMISSION_MG_S_M2 * self.area / q_total
        self.hcho = hcho_eq + (self.hcho - hcho_eq) * decay

        # electricity: everything on the room's meter
        ac_w = np.where(ac_on, (cool_w + heat_w) / AC_COP + AC_FAN_W, 0.0)
        power = STANDBY_W + light_w + proj_w + equip_w + ac_w
        self.energy_kwh = self.energy_kwh + power * dt_s / 3.6e6

        # noise: the slot's level when people are in, background otherwise; the AC adds
        level = np.where(occupied, self._noise_table[self._b_idx, col], BACKGROUND_NOISE_DB)
        level = 10 * np.log10(10 ** (level / 10) + np.where(ac_on, 10**4.2, 0.0))

        self.t_ns = t_ns
        self.steps += 1
        self.outdoor, self.slot = out, slot
        self.occupancy = persons
        self.window_open, self.lights_on, self.projector_on = window_open, lights_on, projector_on
        self.ac_power_w, self.power_w = ac_w, power
        self.daylight_lx = daylight
        self.noise_db = level
        self._measure()

    # ------------------------------------------------------------------ sensors

    def _measure(self) -> None:
        """What sensors read: physics plus sensor noise keyed by (seed, grid step)."""
        step_index = self.t_ns // self.step_ns
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, step_index & 0xFFFFFFFFFFFF])
        n = self.n
        z = rng.standard_normal((9, n))
        illum = self.daylight_lx + np.where(self.lights_on, self._lights_lux, 0.0)
        volts = 220.0 + 2.5 * math.sin(step_index / 97.0) + 0.6 * z[6]
        pf = np.where(self.power_w > 500, 0.95, 0.88)
        self.values = {
            "co2": np.maximum(self.co2 + self._co2_offset + 8.0 * z[0], 380.0),
            "temperature": self.temp + 0.1 * z[1],
            "humidity": np.clip(rh_from_mixing(self.mixing, self.temp) + 0.8 * z[2], 5.0, 100.0),
            "illuminance": np.maximum(illum * (1 + 0.02 * z[3]), 0.0),
            "pm25": np.maximum(self.pm25 + 1.0 * z[4], 0.0),
            "pm10": np.maximum(self.pm10 + 1.5 * z[5], 0.0),
            "hcho": np.maximum(self.hcho + 0.003 * z[7], 0.0),
            "tvoc": np.maximum(0.08 + 0.004 * self.occupancy + 0.01 * z[8], 0.0),
            "noise": self.noise_db + 1.5 * z[8],
            "occupancy": self.occupancy.copy(),
            "presence": (self.occupancy > 0).astype(np.float64),
            "power": self.power_w.copy(),
            "energy": self.energy_kwh.copy(),
            "voltage": volts,
            "current": self.power_w / (volts * pf),
            "power_factor": pf,
            "frequency": 50.0 + 0.02 * z[6],
            "pressure": np.full(n, 1012.0 - 4.0 * self.outdoor.cloudiness) + 0.3 * z[5],
            "status": np.ones(n),
        }

    def value(self, room: str, quantity: str) -> float:
        return float(self.values[quantity][self.index[room]])
