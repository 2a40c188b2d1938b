"""The supervisor of the agent's long-lived tasks (edge_agent/supervise.py): a failing task is
logged at once with its traceback and restarted with backoff; an essential one that keeps
failing stops the agent (fatal, exit code 1); a source is restarted for as long as the agent runs."""

from __future__ import annotations

import asyncio
import logging

import pytest

from edge_agent.supervise import Supervisor


async def test_a_failing_task_is_logged_with_its_traceback_at_once_and_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sup = Supervisor(min_s=0.01, max_s=0.02)
    until = asyncio.Event()
    runs: list[int] = []
    done = asyncio.Event()

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise RuntimeError(f"disk I/O error #{len(runs)}")
        done.set()

    with caplog.at_level(logging.ERROR, logger="edge_agent.supervise"):
        told: list[str] = []
        task = sup.start("uplink", flaky, until, essential=True, on_failure=lambda exc: told.append(str(exc)))
        await asyncio.wait_for(done.wait(), 5)
        await asyncio.wait_for(task, 5)
    assert len(runs) == 3
    assert told == ["disk I/O error #1", "disk I/O error #2"]  # e.g. to put the task's devices DOWN
    failures = [r for r in caplog.records if "task uplink failed" in r.getMessage()]
    assert [r.getMessage().split(";")[0] for r in failures] == [
        "task uplink failed: RuntimeError: disk I/O error #1",
        "task uplink failed: RuntimeError: disk I/O error #2",
    ]
    assert all(r.exc_info is not None and r.exc_info[0] is RuntimeError for r in failures)
    assert sup.fatal is None and not sup.fatal_event.is_set()
    assert sup.tasks["uplink"].failures_total == 2


async def test_an_essential_task_that_keeps_failing_is_fatal() -> None:
    sup = Supervisor(min_s=0.001, max_s=0.002, budget=3, window_s=60)
    runs = 0

    async def broken() -> None:
        nonlocal runs
        runs += 1
        raise OSError(28, "No space left on device")

    task = sup.start("housekeeping", broken, asyncio.Event(), essential=True)
    await asyncio.wait_for(sup.fatal_event.wait(), 5)
    await asyncio.wait_for(task, 5)
    assert runs == 4  # the first run and three restarts, then it gives up
    assert sup.fatal is not None
    assert sup.fatal.startswith("housekeeping failed 4 times within 60s: OSError: [Errno 28] No space left")


async def test_a_source_is_restarted_past_the_budget_and_stops_with_the_agent() -> None:
    sup = Supervisor(min_s=0.001, max_s=0.002, budget=2, window_s=60)
    stop = asyncio.Event()
    runs = 0

    async def source() -> None:
        nonlocal runs
        runs += 1
        if runs == 6:
            stop.set()  # the agent is stopping: no restart after this failure
        raise ValueError("serial port refused the settings")

    task = sup.start("source modbus", source, stop)
    await asyncio.wait_for(task, 5)
    assert runs == 6 and sup.fatal is None and not sup.fatal_event.is_set()
    assert sup.tasks["source modbus"].failures_total == 6


async def test_a_stop_during_the_backoff_ends_the_wait() -> None:
    sup = Supervisor(min_s=30.0, max_s=30.0)
    stop = asyncio.Event()
    failed = asyncio.Event()

    async def once() -> None:
        failed.set()
        raise RuntimeError("boom")

    task = sup.start("source lines", once, stop)
    await asyncio.wait_for(failed.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 2)  # not the 30 s backoff
