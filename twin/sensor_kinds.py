"""How telemetry quantities map onto IFC sensor types, and which quantities a device reports.

The generator and the write-back type each IfcSensor by the quantity it measures
(PredefinedType), so other IFC tools show a CO2 sensor as a CO2 sensor. Quantities without an
IFC enumeration value use USERDEFINED with the name in ObjectType, as IFC prescribes.
"""

from __future__ import annotations

# quantity -> IfcSensorTypeEnum value (IFC4/IFC4X3). None: USERDEFINED + ObjectType.
SENSOR_TYPE_BY_QUANTITY: dict[str, str | None] = {
    "temperature": "TEMPERATURESENSOR",
    "humidity": "HUMIDITYSENSOR",
    "co2": "CO2SENSOR",
    "illuminance": "LIGHTSENSOR",
    "noise": "SOUNDSENSOR",
    "occupancy": "MOVEMENTSENSOR",
    "presence": "MOVEMENTSENSOR",
    "pressure": "PRESSURESENSOR",
    "tvoc": "GASSENSOR",
    "hcho": "GASSENSOR",
    "pm25": None,
    "pm10": None,
    "power": None,
    "energy": None,
    "voltage": None,
    "current": None,
    "power_factor": None,
    "frequency": None,
    "status": None,
}

# Quantities reported by the device profiles the demo campus uses. The generator only needs
# them to type the IfcSensor elements it writes; the profiles themselves stay authoritative
# for decoding (device_profiles/library).
PROFILE_QUANTITIES: dict[str, tuple[str, ...]] = {
    "classroom-air-monitor": ("temperature", "humidity", "co2", "pm25", "pm10", "tvoc"),
    "renke-rs-ws-n01": ("temperature", "humidity"),
    "renke-rs-co2-n01": ("co2",),
    "renke-rs-gz-n01": ("illuminance",),
    "renke-rs-pm-n01": ("pm25", "pm10"),
    "renke-rs-zs-n01": ("noise",),
    "chint-ddsu666": ("voltage", "current", "power", "energy"),
    "chint-dtsu666": ("voltage", "current", "power", "energy"),
    "eastron-sdm120": ("voltage", "current", "power", "energy"),
    "eastron-sdm630": ("voltage", "current", "power", "energy"),
}


def sensor_type(quantity: str | None) -> tuple[str, str | None]:
    """(PredefinedType, ObjectType) for an IfcSensor measuring `quantity`."""
    if quantity is None:
        return "NOTDEFINED", None
    known = SENSOR_TYPE_BY_QUANTITY.get(quantity)
    if known:
        return known, None
    return "USERDEFINED", quantity.upper()


def quantities_for(profile: str | None, declared: tuple[str, ...]) -> tuple[str, ...]:
    """What a campus-spec device measures: its declared quantities, else its profile's."""
    if declared:
        return declared
    if profile and profile in PROFILE_QUANTITIES:
        return PROFILE_QUANTITIES[profile]
    return ()
