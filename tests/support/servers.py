"""Real-server fixtures (a pytest plugin loaded by tests/conftest.py): Mosquitto, InfluxDB 1.x and
VictoriaMetrics on free loopback ports.

A missing binary fails the fixture with an install hint (never a skip). Tests that stop or
restart a server must use their own instance (`make_mosquitto` / `make_influxdb`), not the
shared one. Using any of these fixtures marks a test `integration` (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from campus_twin.servers import InfluxDB, Mosquitto, VictoriaMetrics

SERVER_FIXTURES = frozenset({"mosquitto", "influxdb", "victoriametrics", "make_mosquitto", "make_influxdb"})


S = TypeVar("S", Mosquitto, InfluxDB, VictoriaMetrics)


def _session_server(cls: type[S], factory: pytest.TempPathFactory) -> Iterator[S]:
    server = cls(factory.mktemp(cls.__name__.lower()))
    server.start()
    yield server
    server.stop()


def _private_servers(cls: type[S], tmp_path: Path) -> Iterator[Callable[..., S]]:
    made: list[S] = []

    def make(**kwargs: Any) -> S:
        server = cls(tmp_path / f"{cls.__name__.lower()}{len(made)}", **kwargs)
        server.start()
        made.append(server)
        return server

    yield make
    for s in made:
        s.stop()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    yield from _session_server(Mosquitto, tmp_path_factory)


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB]:
    yield from _session_server(InfluxDB, tmp_path_factory)


@pytest.fixture(scope="session")
def victoriametrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    """A real VictoriaMetrics: its `/api/v2/write` is InfluxDB's (the influxdb2 store's writes)."""
    yield from _session_server(VictoriaMetrics, tmp_path_factory)


@pytest.fixture
def make_mosquitto(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    """Private brokers for tests that stop/restart them (keyword arguments go to `Mosquitto`)."""
    yield from _private_servers(Mosquitto, tmp_path)


@pytest.fixture
def make_influxdb(tmp_path: Path) -> Iterator[Callable[..., InfluxDB]]:
    """Private InfluxDB servers for tests that stop/restart them."""
    yield from _private_servers(InfluxDB, tmp_path)
