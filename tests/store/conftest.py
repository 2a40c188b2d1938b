"""A real VictoriaMetrics for the influxdb2 store's writes (its `/api/v2/write` is InfluxDB's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from campus_twin.servers import VictoriaMetrics


@pytest.fixture(scope="session")
def victoriametrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    server = VictoriaMetrics(tmp_path_factory.mktemp("victoriametrics"))
    server.start()
    yield server
    server.stop()
