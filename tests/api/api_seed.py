"""Test data: the generated demo campus (real IFC through the twin) and readings for its sensors."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from api.settings import ApiSettings
from contract.campus import CampusSpec
from contract.telemetry import CANONICAL_UNITS, SeriesKey
from contract.yamlio import load_model
from store.base import Store, StoredPoint
from twin.model import Campus

REPO = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
# Monday 2026-11-23 10:20 local: inside the 10:00-10:40 lesson of the default timetable
NOW = datetime(2026, 11, 23, 10, 20, tzinfo=TZ)
NOW_NS = int(NOW.timestamp()) * 1_000_000_000
STEP_NS = 300 * 1_000_000_000
HOURS = 30
VIEWER_TOKEN = "viewer-token-0123456789abcdef"
ADMIN_TOKEN = "admin-token-0123456789abcdef"
HOT_ROOM = "A-101"  # CO2 far above 1000 ppm for the last hours
DARK_ROOM = "A-103"  # illuminance below 300 lx


@dataclass
class FixedClock:
    ns: int = NOW_NS

    def now_ns(self) -> int:
        return self.ns


def generate_twin(tmp: Path) -> Path:
    from twin.generator import generate_campus

    spec = load_model(CampusSpec, REPO / "examples/campus/demo-campus.yaml")
    files = generate_campus(spec, tmp / "ifc")
    (tmp / "bindings.yaml").write_text(
        f"# operator bindings\nsite: {spec.site}\nbindings: []\n", encoding="utf-8"
    )
    cfg = tmp / "twin.yaml"
    ifc = ", ".join(str(f.path) for f in files)
    cfg.write_text(
        f"campuses:\n  - id: {spec.site}\n    name: {spec.name}\n    ifc: [{ifc}]\n    bindings: bindings.yaml\n"
        # unit tests start no process: the server's child reader is pinned by test_ifc_api_campuses
        "read_in_child: never\n",
        encoding="utf-8",
    )
    return cfg


def _value(quantity: str, room: str, t: int) -> float:
    phase = math.sin(t / 3.6e12)
    if quantity == "co2":
        return 1400.0 + 100 * phase if room == HOT_ROOM else 650.0 + 100 * phase
    if quantity == "illuminance":
        return 120.0 if room == DARK_ROOM else 420.0 + 30 * phase
    if quantity == "temperature":
        return 22.0 + phase
    if quantity == "humidity":
        return 55.0 + 5 * phase
    if quantity == "occupancy":
        return 40.0
    return 10.0 + abs(phase)


def seed_store(store: Store, campus: Campus, hours: int = HOURS) -> int:
    """Readings every 5 min for every IfcSensor of the campus (point = quantity), room-tagged."""
    places = {}
    for b in campus.buildings:
        for st in b.storeys:
            for sp in st.spaces:
                places[sp.global_id] = (b, st, sp)
    points: list[StoredPoint] = []
    for _b, _st, sp in places.values():
        seen: set[tuple[str, str]] = set()
        for s in sp.sensors:
            dev, q = s.get("device_id"), s.get("quantity")
            if not dev or q not in CANONICAL_UNITS or (dev, q) in seen:
                continue
            seen.add((dev, q))
            tags = {"campus": campus.id, "room": sp.global_id, "room_number": sp.room_number}
            for i in range(hours * 12):
                ts = NOW_NS - i * STEP_NS
                points.append(
                    StoredPoint(
                        key=SeriesKey(campus.id, dev, q),
                        ts=ts,
                        value=_value(q, sp.room_number, ts),
                        quantity=q,
                        unit=CANONICAL_UNITS[q],
                        agent=f"gw-{sp.room_number.split('-')[0]}",
                        tags=tags,
                    )
                )
    for i in range(0, len(points), 5000):
        store.write(points[i : i + 5000])
    return len(points)


def make_settings(twin_dir: Path, **extra: object) -> ApiSettings:
    return ApiSettings.model_validate(
        {
            "twin_config": twin_dir / "twin.yaml",
            "store": {"type": "sqlite", "path": twin_dir / "store.sqlite"},
            "tokens": {"file": twin_dir / "tokens.yaml", "env": None},
            **extra,
        }
    )
