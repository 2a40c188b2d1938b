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
    "store": {"contract"},
    "ingest": {"contract", "ops", "store"},
    "twin": {"contract", "device_profiles", "store"},
    "api": {"contract", "device_profiles", "ops", "store", "twin"},
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


def _modules(path: Path) -> set[str]:
    """Dotted names of the project-absolute modules `path` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _imports(path: Path) -> set[str]:
    return {m.split(".")[0] for m in _modules(path)}


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


# a process's own config file model: read only by its own package (the store's `store:` section is
# `store.config`, shared on purpose by ingest, api and the report CLI; `twin.config`, the campus
# description the API serves, is the twin's interface)
PROCESS_CONFIGS = {"ingest.config", "edge_agent.config", "api.settings"}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_package_reads_another_process_config(package: str) -> None:
    bad = []
    for path in sorted((REPO / package).rglob("*.py")):
        for mod in _modules(path):
            if mod in PROCESS_CONFIGS and mod.split(".")[0] != package:
                bad.append(f"{path.relative_to(REPO)} imports {mod}")
    assert not bad, "\n".join(bad)
