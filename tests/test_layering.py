"""Lower layers never import upper ones; the agent never needs the server's dependencies."""

from __future__ import annotations

import ast
import functools
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


@functools.cache
def _tree(path: Path) -> ast.Module:
    """Each file parsed once per test process (every rule below walks the whole tree)."""
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _modules(path: Path) -> set[str]:
    """Dotted names of the project-absolute modules `path` imports."""
    tree = _tree(path)
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


# --- one implementation per operational concept -------------------------------------------
# Each rule: (what, the one file allowed, a detector over a parsed module). A second metrics
# exposition, quarantine or MQTT client builder anywhere else fails naming the file and line.
SCANNED = (*sorted(ALLOWED), "campus_twin", "bench")
EXPOSITION_CALLS = {"start_http_server", "generate_latest", "make_wsgi_app", "make_asgi_app"}
EXPOSITION_TEXT = ("# TYPE ", "text/plain; version=0.0.4")
# files still being converted by their owners (remove the entry when converted)
PENDING: dict[str, str] = {}


def _call_name(node: ast.Call) -> tuple[str | None, str | None]:
    """(object name, attribute) of `obj.attr(...)`, or (None, name) of `name(...)`."""
    f = node.func
    if isinstance(f, ast.Attribute):
        return (f.value.id if isinstance(f.value, ast.Name) else None), f.attr
    if isinstance(f, ast.Name):
        return None, f.id
    return None, None


def _mqtt_clients(tree: ast.AST) -> list[int]:
    client_names = {
        a.asname or a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module in {"paho.mqtt.client", "aiomqtt"}
        for a in n.names
        if a.name == "Client"
    }
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Call):
            obj, attr = _call_name(n)
            if (attr == "Client" and obj in {"mqtt", "aiomqtt", "client"}) or (
                obj is None and attr in client_names
            ):
                out.append(n.lineno)
    return out


def _expositions(tree: ast.AST) -> list[int]:
    out = []
    for n in ast.walk(tree):
        if (isinstance(n, ast.Call) and _call_name(n)[1] in EXPOSITION_CALLS) or (
            isinstance(n, ast.Constant)
            and isinstance(n.value, str)
            and any(t in n.value for t in EXPOSITION_TEXT)
        ):
            out.append(n.lineno)
    return out


def _quarantines(tree: ast.AST) -> list[int]:
    return [
        n.lineno
        for n in ast.walk(tree)
        if (isinstance(n, ast.ClassDef) and "Quarantine" in n.name)
        or (
            isinstance(n, ast.Constant)
            and isinstance(n.value, str)
            and "TABLE IF NOT EXISTS quarantine" in n.value
        )
    ]


ONE_OF = {
    "MQTT client builder": ("ops/mqtt_client.py", _mqtt_clients),
    "metrics exposition": ("ops/metrics.py", _expositions),
    "quarantine": ("ops/quarantine.py", _quarantines),
}


@pytest.mark.parametrize("concept", sorted(ONE_OF))
def test_one_implementation_of(concept: str) -> None:
    owner, detect = ONE_OF[concept]
    bad = []
    for package in SCANNED:
        for path in sorted((REPO / package).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if rel == owner or rel in PENDING:
                continue
            tree = _tree(path)
            bad += [f"{rel}:{line}" for line in detect(tree)]
    assert not bad, f"a second {concept} (use {owner}): " + ", ".join(bad)


def test_the_detectors_find_what_they_guard() -> None:
    """Each detector fires on its owner file, so an empty result elsewhere means something."""
    for concept, (owner, detect) in ONE_OF.items():
        assert detect(ast.parse((REPO / owner).read_text(encoding="utf-8"))), concept
