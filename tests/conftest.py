"""Session-wide real servers: Mosquitto and InfluxDB 1.x on free loopback ports.

A missing binary fails the fixture with an install hint (never a skip). Tests that stop or
restart a server must use their own instance (`make_mosquitto` / `make_influxdb`), not the
shared one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from campus_twin.servers import InfluxDB, Mosquitto

REPO = Path(__file__).resolve().parent.parent
SHARED_IFC = REPO.parent / "shared" / "ifc"


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB]:
    server = InfluxDB(tmp_path_factory.mktemp("influxdb"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_mosquitto(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    """Private brokers for tests that stop/restart them."""
    made: list[Mosquitto] = []

    def make(**kwargs: object) -> Mosquitto:
        server = Mosquitto(tmp_path / f"mosquitto{len(made)}", **kwargs)  # type: ignore[arg-type]
        server.start()
        made.append(server)
        return server

    yield make
    for s in made:
        s.stop()


@pytest.fixture
def make_influxdb(tmp_path: Path) -> Iterator[Callable[[], InfluxDB]]:
    made: list[InfluxDB] = []

    def make() -> InfluxDB:
        server = InfluxDB(tmp_path / f"influxdb{len(made)}")
        server.start()
        made.append(server)
        return server

    yield make
    for s in made:
        s.stop()


@pytest.fixture(scope="session")
def shared_ifc_dir() -> Path:
    if not SHARED_IFC.is_dir():
        pytest.fail(f"shared IFC samples not found at {SHARED_IFC} (expected ../shared/ifc beside the repo)")
    return SHARED_IFC


@pytest.fixture(scope="session")
def long_tests() -> bool:
    return os.environ.get("CAMPUS_TWIN_LONG") == "1"
