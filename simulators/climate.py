"""Outdoor conditions at a local time: sun position, daylight, temperature, humidity, PM.

Pure scalar functions (one outdoor state per campus per step). Sun geometry is the usual
declination/hour-angle approximation (±1°, plenty for daylight through a window);
weather varies day to day by a seeded dice so two runs with one seed see the same sky.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from simulators.school_config import Climate
from simulators.timetable import mix64

LUMINOUS_EFFICACY_LM_PER_W = 110.0  # daylight, to turn lux into solar W/m²


@dataclass(frozen=True, slots=True)
class Outdoor:
    temperature_c: float
    humidity_rh: float
    mixing_g_per_kg: float
    co2_ppm: float
    pm25: float
    pm10: float
    sun_elevation_rad: float
    sun_azimuth_rad: float  # from north, clockwise
    direct_normal_lx: float
    diffuse_horizontal_lx: float
    cloudiness: float


def sun_position(local: dt.datetime, latitude_deg: float, longitude_deg: float) -> tuple[float, float]:
    """(elevation, azimuth from north clockwise), radians, from the local wall time and zone."""
    offset = local.utcoffset() or dt.timedelta(0)
    doy = local.timetuple().tm_yday
    b = 2 * math.pi * (doy - 81) / 364
    eot_min = 9.87 * math.sin(2 * b) - 7.53 * math.cos(b) - 1.5 * math.sin(b)
    std_meridian = offset.total_seconds() / 3600 * 15
    solar_min = (
        local.hour * 60 + local.minute + local.second / 60 + 4 * (longitude_deg - std_meridian) + eot_min
    )
    hour_angle = math.radians((solar_min / 60 - 12) * 15)
    decl = math.radians(23.44) * math.sin(2 * math.pi * (284 + doy) / 365)
    lat = math.radians(latitude_deg)
    sin_el = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(hour_angle)
    el = math.asin(max(-1.0, min(1.0, sin_el)))
    az = math.atan2(
        math.sin(hour_angle),
        math.cos(hour_angle) * math.sin(lat) - math.tan(decl) * math.cos(lat),
    )
    return el, (az + math.pi) % (2 * math.pi)


def saturation_hpa(t_c: float | np.ndarray) -> np.ndarray:
    """Magnus formula (WMO), hPa over water."""
    return np.asarray(6.112 * np.exp(17.62 * np.asarray(t_c) / (243.12 + np.asarray(t_c))))


def rh_from_mixing(w_g_per_kg: np.ndarray | float, t_c: np.ndarray | float) -> np.ndarray:
    e = np.asarray(w_g_per_kg) * 1013.25 / (622.0 + np.asarray(w_g_per_kg))
    return np.clip(100.0 * e / saturation_hpa(t_c), 1.0, 100.0)


def mixing_from_rh(rh: float, t_c: float) -> float:
    e = rh / 100.0 * float(saturation_hpa(t_c))
    return 622.0 * e / (1013.25 - e)


@lru_cache(maxsize=4096)
def day_dice(seed: int, day: dt.date, salt: int) -> float:
    return float(mix64(np.array([seed], dtype=np.uint64), day.toordinal(), salt)[0])


def outdoor_at(climate: Climate, local: dt.datetime, seed: int) -> Outdoor:
    doy = local.timetuple().tm_yday
    hour = local.hour + local.minute / 60 + local.second / 3600
    season = math.cos(2 * math.pi * (doy - 200) / 365.25)  # +1 late July, -1 mid January
    weather = day_dice(seed, local.date(), 1) - 0.5  # warm/cool spell of the day
    cloud = min(1.0, max(0.0, climate.cloudiness_mean + 0.8 * (day_dice(seed, local.date(), 2) - 0.5)))
    t = (
        climate.t_mean_c
        + climate.t_season_amp_c * season
        + climate.t_day_amp_c * math.cos(2 * math.pi * (hour - 15) / 24) * (1 - 0.5 * cloud)
        + 3.0 * weather
    )
    rh = min(
        98.0, climate.rh_mean + climate.rh_season_amp * season - 12 * math.cos(2 * math.pi * (hour - 15) / 24)
    )
    rh = max(20.0, rh + 10 * cloud - 5)
    haze = 0.6 + 0.8 * day_dice(seed, local.date(), 3)
    rush = 1 + 0.25 * (math.exp(-(((hour - 8) / 1.5) ** 2)) + math.exp(-(((hour - 19) / 2) ** 2)))
    pm25 = max(3.0, (climate.pm25_mean - climate.pm25_season_amp * season) * haze * rush)
    el, az = sun_position(local, climate.latitude_deg, climate.longitude_deg)
    sin_el = math.sin(el)
    if sin_el > 0:
        direct = 110_000.0 * (1 - 0.9 * cloud) * math.exp(-0.18 / max(sin_el, 0.05))
        diffuse = (12_000.0 + 18_000.0 * cloud * (1 - 0.4 * cloud)) * math.sqrt(sin_el)
    else:
        direct = diffuse = 0.0
    return Outdoor(
        temperature_c=t,
        humidity_rh=rh,
        mixing_g_per_kg=mixing_from_rh(rh, t),
        co2_ppm=climate.co2_ppm,
        pm25=pm25,
        pm10=pm25 * 1.7,
        sun_elevation_rad=el,
        sun_azimuth_rad=az,
        direct_normal_lx=direct,
        diffuse_horizontal_lx=diffuse,
        cloudiness=cloud,
    )
