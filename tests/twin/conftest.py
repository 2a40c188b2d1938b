"""Twin test fixtures: a small campus spec and its generated IFC, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.campus import CampusSpec
from contract.yamlio import load_model

REPO = Path(__file__).resolve().parents[2]
DEMO_SPEC = REPO / "examples" / "campus" / "demo-campus.yaml"

SMALL_SPEC = {
    "site": "t-school",
    "name": "测试学校 (Test School)",
    "buildings": [
        {
            "id": "A",
            "name": "教学楼A",
            "floors": 2,
            "rooms_per_floor": [
                {
                    "type": "smart_classroom",
                    "name_zh": "智慧教室",
                    "devices": [
                        {"key": "air", "profile": "classroom-air-monitor"},
                        {
                            "key": "occ",
                            "protocol": "mqtt",
                            "format": "zigbee2mqtt",
                            "quantities": ["occupancy", "illuminance"],
                        },
                    ],
                },
                {
                    "type": "general_classroom",
                    "name_zh": "普通教室",
                    "devices": [{"key": "th", "profile": "renke-rs-ws-n01"}],
                },
                {"type": "office", "name_zh": "教师办公室", "orientation": "N", "width_m": 6, "depth_m": 6},
            ],
        },
        {
            "id": "B",
            "name": "实验楼B",
            "floors": 1,
            "origin_m": [0, 30],
            "rooms_per_floor": [
                {
                    "type": "chemistry_lab",
                    "name_zh": "化学实验室",
                    "width_m": 12,
                    "depth_m": 8,
                    "devices": [{"key": "co2", "profile": "renke-rs-co2-n01"}],
                },
                {"type": "library", "name_zh": "图书室", "orientation": "N"},
            ],
        },
    ],
}


@pytest.fixture(scope="session")
def small_spec() -> CampusSpec:
    return CampusSpec.model_validate(SMALL_SPEC)


@pytest.fixture(scope="session")
def demo_spec() -> CampusSpec:
    return load_model(CampusSpec, DEMO_SPEC)


@pytest.fixture(scope="session")
def small_campus_dir(small_spec: CampusSpec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Per-building IFC4 files of the small campus (generated once; treat as read-only)."""
    from twin.generator import generate_campus

    out = tmp_path_factory.mktemp("small-campus")
    generate_campus(small_spec, out)
    return out
