"""Fixtures for the edge-agent tests: a Modbus simulator on its own thread for CLI subprocesses."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from simulators.modbus_server import ModbusSimServer
from tests.edge_agent.agent_helpers import sim_devices


@pytest.fixture
def sim_in_thread() -> Iterator[ModbusSimServer]:
    """The simulator on its own event loop in a thread, for CLI subprocesses to talk to."""
    loop = asyncio.new_event_loop()
    sim = ModbusSimServer(sim_devices())
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(sim.start())
        ready.set()
        loop.run_forever()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert ready.wait(10)
    yield sim
    asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    t.join(10)
    loop.close()
