"""Lower layers never import upper ones; the agent never needs the server's dependencies."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
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


@functools.cache
def _walk(tree: ast.AST) -> tuple[ast.AST, ...]:
    """Every node of a (cached) tree, listed once per test process for all the detectors."""
    return tuple(ast.walk(tree))


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
        for n in _walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module in {"paho.mqtt.client", "aiomqtt"}
        for a in n.names
        if a.name == "Client"
    }
    out = []
    for n in _walk(tree):
        if isinstance(n, ast.Call):
            obj, attr = _call_name(n)
            if (attr == "Client" and obj in {"mqtt", "aiomqtt", "client"}) or (
                obj is None and attr in client_names
            ):
                out.append(n.lineno)
    return out


def _expositions(tree: ast.AST) -> list[int]:
    out = []
    for n in _walk(tree):
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
        for n in _walk(tree)
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


# --- no import circles --------------------------------------------------------------------
# Every import counts: module level, inside a function (lazy) and under `if TYPE_CHECKING:`. A
# lazy or type-only import hides a circle from Python, not from a reader: the two modules are
# still one unit that cannot be understood, tested or moved apart.
# circles being removed on another branch (remove the entry when it lands)
KNOWN_CIRCLES: set[frozenset[str]] = set()


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    """Module → the project modules it imports anywhere in its body (`from pkg import sub` is
    an edge to `pkg.sub` when that is a module, else to `pkg`; relative imports resolved)."""
    files = {_module_name(p, root): p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*up, base] if base else up)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in files:  # `import a.b.c` of a module: the deepest known
                    t = t.rpartition(".")[0]
                if t and t != mod:
                    graph[mod].add(t)
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected set of modules (more than one), as one circle through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    sccs: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan; the module graph is shallow enough for recursion
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = set()
            while True:
                w = stack.pop()
                on.discard(w)
                scc.add(w)
                if w == v:
                    break
            if len(scc) > 1:
                sccs.append(scc)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_path_around(graph, scc) for scc in sccs]


def _path_around(graph: dict[str, set[str]], scc: set[str]) -> list[str]:
    """A shortest circle from the first module of `scc` back to itself (breadth first)."""
    start = min(scc)
    came: dict[str, str] = {}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & scc):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(came[path[-1]])
                return [*reversed(path), start]
            if w not in came:
                came[w] = v
                queue.append(w)
    return sorted(scc)


@functools.cache
def _project_circles() -> list[list[str]]:
    return _circles(_import_graph(REPO, SCANNED))


def test_no_import_circles() -> None:
    found = [c for c in _project_circles() if frozenset(c) not in KNOWN_CIRCLES]
    assert not found, "import circles (lazy and TYPE_CHECKING imports count):\n" + "\n".join(
        " -> ".join(c) for c in found
    )


def test_known_circles_still_exist() -> None:
    """An allow-listed circle that is gone must leave the list, so it cannot come back unseen."""
    found = {frozenset(c) for c in _project_circles()}
    assert found >= KNOWN_CIRCLES, f"remove from KNOWN_CIRCLES: {KNOWN_CIRCLES - found}"


def test_circle_detector_sees_lazy_and_type_only_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..c import C\n"
    )
    (pkg / "c.py").write_text("def f():\n    import pkg.a\n")
    (pkg / "d.py").write_text("from pkg import a\n")  # into the circle, not part of it
    graph = _import_graph(tmp_path, ["pkg"])
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.sub.b"] == {"pkg.c"}
    assert _circles(graph) == [["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]]


def test_only_the_app_imports_route_modules() -> None:
    """A route handler is an HTTP answer, not a function to compute with: what two routes share
    lives in a module below them (the roll-up asks the twin, not `get_storey_live`)."""
    bad = [
        f"{mod} imports {dep}"
        for mod, deps in _import_graph(REPO, ["api"]).items()
        for dep in deps
        if dep.startswith("api.routes.") and mod != "api.app" and not mod.startswith("api.routes.")
    ]
    assert not bad, "\n".join(bad)
