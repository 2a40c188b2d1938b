"""Bounded waits on a condition: the one place tests poll instead of sleeping a guessed time.

A loaded 2-core CI box can be several times slower than a laptop, so a test waits for what it
asserts (with a generous timeout that only bounds a failure) instead of sleeping a fixed time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(pred: Callable[[], bool], timeout: float, what: str, every: float = 0.05) -> None:
    """Return once `pred()` is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


async def async_wait_until(pred: Callable[[], bool], timeout: float, what: str, every: float = 0.05) -> None:
    """`wait_until` for coroutines: yields to the event loop between checks."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(every)


async def async_poll_until(
    produce: Callable[[], Awaitable[T]],
    ok: Callable[[T], bool],
    timeout: float,
    what: str,
    every: float = 0.05,
) -> T:
    """Call `produce()` until its result satisfies `ok`, and return that result (e.g. read a
    register until the device answers again); fail naming `what` and the last result."""
    deadline = time.monotonic() + timeout
    while True:
        got = await produce()
        if ok(got):
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {got!r}")
        await asyncio.sleep(every)
