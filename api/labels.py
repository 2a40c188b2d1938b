"""Chinese-first labels for quantities shown in the API and UI ("二氧化碳 CO₂")."""

from __future__ import annotations

from api.schemas import Label
from contract.telemetry import CANONICAL_UNITS

QUANTITY_LABELS: dict[str, tuple[str, str]] = {
    "temperature": ("温度", "Temperature"),
    "humidity": ("相对湿度", "Relative humidity"),
    "co2": ("二氧化碳", "CO₂"),
    "illuminance": ("照度", "Illuminance"),
    "pm25": ("细颗粒物", "PM2.5"),
    "pm10": ("可吸入颗粒物", "PM10"),
    "tvoc": ("总挥发性有机物", "TVOC"),
    "hcho": ("甲醛", "Formaldehyde"),
    "noise": ("噪声", "Noise"),
    "occupancy": ("在室人数", "Occupancy"),
    "presence": ("有人", "Presence"),
    "power": ("功率", "Power"),
    "energy": ("电能", "Energy"),
    "voltage": ("电压", "Voltage"),
    "current": ("电流", "Current"),
    "power_factor": ("功率因数", "Power factor"),
    "frequency": ("频率", "Frequency"),
    "pressure": ("气压", "Pressure"),
    "status": ("状态", "Status"),
}
assert set(QUANTITY_LABELS) == set(CANONICAL_UNITS), "every contract quantity needs a label"


def quantity_label(q: str) -> Label:
    zh, en = QUANTITY_LABELS.get(q, (q, q))
    return Label(zh=zh, en=en)
