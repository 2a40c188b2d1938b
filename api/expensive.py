"""Expensive reads (indicators over days of data): cached per period, computed once at a time.

Thirty viewers opening the indicators page must not run thirty report builds side by side and
starve every other request (seen: 3.1 s stalls for 77 s). So: one result per key (campus,
period, minute) reused for `ttl_s`; concurrent requests for the same key await the one build
in progress; builds run in worker threads behind a limiter of `concurrency`, and waiting costs
no thread (the waiters are coroutines), so cheap requests keep the thread pool to themselves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")
MAX_ENTRIES = 256


class Expensive:
    def __init__(self, ttl_s: float = 60.0, concurrency: int = 1) -> None:
        self.ttl_s = ttl_s
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._done: dict[Hashable, tuple[float, Any]] = {}
        self._running: dict[Hashable, asyncio.Future[Any]] = {}

    async def get(self, key: Hashable, build: Callable[[], T]) -> T:
        hit = self._done.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.ttl_s:
            value: T = hit[1]
            return value
        running = self._running.get(key)
        if running is not None:
            shared: T = await asyncio.shield(running)
            return shared
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._running[key] = fut
        try:
            value = await anyio.to_thread.run_sync(build, limiter=self._limiter)
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: waiters re-raise it, nobody warns about it
            raise
        finally:
            self._running.pop(key, None)
        if len(self._done) >= MAX_ENTRIES:
            self._done.clear()
        self._done[key] = (time.monotonic(), value)
        fut.set_result(value)
        return value

    def clear(self) -> None:
        self._done.clear()
