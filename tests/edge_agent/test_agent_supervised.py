"""Supervised tasks in the running agent, against a real Mosquitto: a source that raises is
logged with its traceback and restarted while another source's readings keep reaching the
broker; an essential task that cannot be kept running stops the agent with result 1 (`agent run`
exits 1) and says why — not "Task exception was never retrieved" at shutdown."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from campus_twin.servers import Mosquitto
from edge_agent.config import load_agent_config
from edge_agent.runtime import Agent
from edge_agent.sources import SourceBase
from edge_agent.supervise import Supervisor
from tests.edge_agent.agent_helpers import Collector, write_config
from tests.support.waiting import async_wait_until

LOGGER = """lines:
  - {id: B-104-logger, path: b104.csv, from_beginning: true, points: {co2: {quantity: co2, unit: ppm}}}
"""


class Broken(SourceBase):
    """A source with a bug: every run raises after a moment."""

    name = "broken"

    def __init__(self) -> None:
        self.runs = 0

    async def run(self, stop: asyncio.Event) -> None:
        self.runs += 1
        await asyncio.sleep(0.01)
        raise KeyError(f"register map bug #{self.runs}")


async def test_a_source_that_raises_is_restarted_while_another_delivers(
    tmp_path: Path, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "b104.csv").write_text("2025-12-06T13:45:00,co2,812\n")
    agent = Agent(load_agent_config(write_config(tmp_path / "agent.yaml", mosquitto.port, extra=LOGGER)))
    agent.supervisor = Supervisor(min_s=0.05, max_s=0.1)
    broken = Broken()
    agent.sources.append(broken)
    col = Collector(mosquitto.port, client_id="supervised-1")
    stop = asyncio.Event()
    caplog.set_level(logging.INFO)
    task = asyncio.ensure_future(agent.run(stop, flush_timeout_s=5))
    try:
        await async_wait_until(lambda: col.values("B-104-logger") == [812.0], 20, "the logger's reading")
        await async_wait_until(lambda: broken.runs >= 4, 10, "the broken source restarted")
        with (tmp_path / "b104.csv").open("a") as f:
            f.write("2025-12-06T13:46:00,co2,815\n")
        await async_wait_until(lambda: col.values("B-104-logger") == [812.0, 815.0], 20, "a later reading")
    finally:
        stop.set()
        result = await asyncio.wait_for(task, 20)
        col.close()
    assert result == 0 and agent.failure is None  # a source never makes the agent fail
    failed = [r for r in caplog.records if r.getMessage().startswith("task source broken failed")]
    assert len(failed) >= 3 and all(r.exc_info is not None for r in failed)
    assert "KeyError: 'register map bug #1'" in failed[0].getMessage()
    assert agent.health().model_dump()["tasks"]["source broken"]["failures"] == broken.runs
    assert "never retrieved" not in caplog.text


async def test_an_essential_task_that_keeps_failing_stops_the_agent_with_result_1(
    tmp_path: Path, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "b104.csv").write_text("")
    agent = Agent(load_agent_config(write_config(tmp_path / "agent.yaml", mosquitto.port, extra=LOGGER)))
    agent.supervisor = Supervisor(min_s=0.01, max_s=0.02, budget=3)
    calls = 0

    async def housekeeping(stop: asyncio.Event) -> None:
        nonlocal calls
        calls += 1
        raise OSError(28, "No space left on device")

    agent._housekeeping = housekeeping  # type: ignore[method-assign]
    caplog.set_level(logging.INFO)
    result = await asyncio.wait_for(agent.run(asyncio.Event(), flush_timeout_s=2), 30)
    assert result == 1 and calls == 4
    assert agent.failure is not None and agent.failure.startswith(
        "housekeeping failed 4 times within 300s: OSError: [Errno 28] No space left on device"
    )
    assert f"agent stopped on an error: {agent.failure}" in caplog.text
