"""Lower layers never import upper ones; the agent never needs the server's dependencies."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# package -> packages of this project it may import
ALLOWED = {
    "contract": set(),
    "ops": {"contract"},
    "device_profiles": {"contract"},
    "simulators": {"contract", "device_profiles", "ops"},
    "edge_agent": {"contract", "device_profiles", "ops"},
    "ingest": {"contract", "ops"},
    "twin": {"contract", "device_profiles", "ingest"},
    "api": {"contract", "device_profiles", "ops", "ingest", "twin"},
}
PROJECT = set(ALLOWED) | {"campus_twin", "bench"}
# third-party modules a gateway (campus-twin[agent]) does not have
SERVER_ONLY = {
    "ifcopenshell",
    "fastapi",
    "uvicorn",
    "starlette",
    "influxdb_client",
    "openpyxl",
    "shapely",
    "amqtt",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_layer_imports(package: str) -> None:
    bad = []
    for path in sorted((REPO / package).rglob("*.py")):
        for name in _imports(path):
            if name in PROJECT and name != package and name not in ALLOWED[package]:
                bad.append(f"{path.relative_to(REPO)} imports {name}")
            if package in {"edge_agent", "device_profiles", "contract", "ops"} and name in SERVER_ONLY:
                bad.append(f"{path.relative_to(REPO)} imports server-only {name}")
    assert not bad, "\n".join(bad)
