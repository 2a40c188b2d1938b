"""Session-wide settings for the whole suite: server fixtures, shared paths, the test markers.

Every test is `unit` or `integration`, applied here so nobody has to remember it:
`integration` when it uses a real server fixture (`tests/support/servers.py`) or a fixture that
starts processes, or lives in a folder of whole-system tests; otherwise `unit`. `make unit-fast`
runs `-m unit` (under a minute); `make test` runs both (unit on both cores, then integration serially).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["tests.support.servers"]

REPO = Path(__file__).resolve().parent.parent
SHARED_IFC = REPO.parent / "shared" / "ifc"

# Fixtures that start servers or processes (besides SERVER_FIXTURES), folders and files whose
# tests run the whole system, a browser, or long fuzzing (minutes of generated input): any of
# them makes a test `integration`. Everything else must stay fast: `make unit-fast` < 1 min.
PROCESS_FIXTURES = frozenset({"make_pipeline", "ingest_procs", "recorder", "publisher"})
INTEGRATION_DIRS = frozenset({"faults", "demo", "fuzz"})
INTEGRATION_FILES = frozenset({"api/test_browser.py", "api/test_schemathesis.py"})
# Unit tests that are correct but heavy (real IFC models parsed and written, whole CLI pipelines,
# API start-ups with a restart): `slow`, run by `make test` and `make pytest`, left out of the
# edit-test loop `make unit-fast` (-m "unit and not slow"). A single test can say
# @pytest.mark.slow instead. Keep `make unit-fast` under a minute of wall and of CPU.
SLOW_FILES = frozenset(
    {
        "twin/test_ifc_cases.py",
        "twin/test_twin_writeback.py",
        "twin/test_twin_loader.py",
        "twin/test_ifc_open.py",
        "twin/test_twin_api_load.py",
        "twin/test_twin_generator.py",
        "twin/test_cold_load.py",
    }
)

FAST = os.environ.get("CT_FAST") == "1"  # the edit-test loop (`make unit-fast`)
if FAST:
    from hypothesis import settings

    settings.register_profile("fast", max_examples=10)
    settings.load_profile("fast")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The edit-test loop does not even import the files it would deselect whole (integration
    folders and files, slow files): each xdist worker would pay their imports for nothing."""
    if not FAST:
        return None
    try:
        rel = collection_path.resolve().relative_to(REPO / "tests")
    except ValueError:
        return None
    if rel.parts and rel.parts[0] in INTEGRATION_DIRS:
        return True
    return True if rel.as_posix() in INTEGRATION_FILES | SLOW_FILES else None


@pytest.fixture(scope="session")
def shared_ifc_dir() -> Path:
    if not SHARED_IFC.is_dir():
        pytest.fail(f"shared IFC samples not found at {SHARED_IFC} (expected ../shared/ifc beside the repo)")
    return SHARED_IFC


@pytest.fixture(scope="session")
def long_tests() -> bool:
    return os.environ.get("CAMPUS_TWIN_LONG") == "1"


def is_integration(item: pytest.Item) -> bool:
    from tests.support.servers import SERVER_FIXTURES  # loaded by pytest_plugins (assert rewriting)

    if item.get_closest_marker("integration") is not None:
        return True
    names = set(getattr(item, "fixturenames", ()))
    if names & (SERVER_FIXTURES | PROCESS_FIXTURES):
        return True
    rel = Path(str(item.path)).resolve().relative_to(REPO / "tests")
    return bool(set(rel.parts[:-1]) & INTEGRATION_DIRS) or rel.as_posix() in INTEGRATION_FILES


def _require_programs() -> None:
    from tests.support.system_programs import missing, report

    absent = missing()
    if absent:
        pytest.exit(report(absent), returncode=3)


def pytest_configure(config: pytest.Config) -> None:
    """`-m integration` checks the programs the tests start before collecting anything: a machine
    without one (socat, chromium…) fails in the first second, naming it and its package."""
    expr = (config.option.markexpr or "").replace(" ", "")
    if "integration" in expr and "notintegration" not in expr:
        _require_programs()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Any other run that selected an integration test checks the same, before the first test."""
    if any(item.get_closest_marker("integration") for item in session.items):
        _require_programs()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if is_integration(item):
            item.add_marker(pytest.mark.integration)
            continue
        if item.get_closest_marker("unit") is None:
            item.add_marker(pytest.mark.unit)
        rel = Path(str(item.path)).resolve().relative_to(REPO / "tests").as_posix()
        if rel in SLOW_FILES:
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[object], request: pytest.FixtureRequest) -> None:
    """A `unit` test that reaches a real server anyway (`request.getfixturevalue`) fails here,
    naming itself, instead of silently slowing the fast subset down."""
    from tests.support.servers import SERVER_FIXTURES

    item = getattr(request, "_pyfuncitem", None)
    if (
        fixturedef.argname in SERVER_FIXTURES
        and item is not None
        and item.get_closest_marker("integration") is None
    ):
        pytest.fail(
            f"{item.nodeid} starts the {fixturedef.argname} server but is marked unit: "
            "request the fixture by name or mark it pytest.mark.integration",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _unit_tests_start_no_process_or_server(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `unit` test that spawns a process or listens on a socket fails, naming itself: the
    fast subset stays fast because the marker cannot lie (mark such a test integration)."""
    if request.node.get_closest_marker("integration") is not None:
        return
    import socket
    import subprocess

    nodeid = request.node.nodeid

    def refuse(what: str) -> None:
        pytest.fail(f"{nodeid} {what} but is marked unit: mark it pytest.mark.integration", pytrace=False)

    def no_popen(self: object, *args: object, **kwargs: object) -> None:
        refuse("starts a process")

    def no_listen(self: socket.socket, *args: object) -> None:
        refuse("listens on a socket (a server)")

    monkeypatch.setattr(subprocess.Popen, "__init__", no_popen)
    monkeypatch.setattr(socket.socket, "listen", no_listen)
