"""Fixtures for the simulator tests: a real MQTT subscriber that records what lands."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from campus_twin.servers import Mosquitto
from tests.support.mqtt import Recorder


@pytest.fixture
def recorder(mosquitto: Mosquitto) -> Iterator[Callable[..., Recorder]]:
    made: list[Recorder] = []

    def make(*filters: str) -> Recorder:
        r = Recorder(mosquitto.host, mosquitto.port)
        r.start(*filters)
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()
