"""Fixtures for ingest tests (helpers live in ingest_helpers.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from campus_twin.servers import Mosquitto
from tests.ingest.ingest_helpers import IngestProcess
from tests.support.mqtt import Publisher


@pytest.fixture
def publisher(mosquitto: Mosquitto) -> Iterator[Publisher]:
    p = Publisher(mosquitto)
    yield p
    p.close()


@pytest.fixture
def ingest_procs(tmp_path: Path) -> Iterator[Callable[[Path], IngestProcess]]:
    made: list[IngestProcess] = []

    def make(config: Path) -> IngestProcess:
        p = IngestProcess(config, tmp_path / f"ingest{len(made)}.log")
        made.append(p)
        return p

    yield make
    for p in made:
        if p.proc is not None and p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait(timeout=10)
