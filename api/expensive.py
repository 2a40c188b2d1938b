"""Expensive reads (indicators over days of data, alerts): cached per period, computed once at a time.

Thirty viewers opening the indicators page must not run thirty report builds side by side and
starve every other request (seen: 3.1 s stalls for 77 s). So: one result per key (campus,
period, minute) reused for `ttl_s`; concurrent requests for the same key await the one build
in progress; builds run in worker threads behind a limiter of `concurrency`, and waiting costs
no thread (the waiters are coroutines), so cheap requests keep the thread pool to themselves.

A build that is long and CPU-bound (an indicators report at 10k rooms: ~100 s of pure Python)
would still hold the GIL against every status request in its thread; `ProcessBuilds` runs such
a build in a separate worker process (spawned, not forked: the API process has threads), so
the API's thread only waits for the result.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")
log = logging.getLogger(__name__)
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


class ProcessBuilds:
    """A pool of `workers` spawned processes for long CPU-bound builds (created on first use).

    `run(fn, *args)` blocks its (worker) thread until the process returns; `fn` and `args` must
    be picklable (a module-level function and plain data)."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._unavailable = False  # the pool could not start: build in the calling thread
        self._lock = threading.Lock()

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            if self._pool is None and not self._unavailable:
                ctx = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
            pool = self._pool
        if pool is not None:
            try:
                future = pool.submit(fn, *args)  # starts the worker process on first use
            except (AssertionError, OSError) as exc:  # e.g. the API runs in a daemonic process
                log.warning("no worker process for long builds (%s); building in a thread", exc)
                with self._lock:
                    self._unavailable, self._pool = True, None
                pool.shutdown(wait=False)
            else:
                return future.result()
        return fn(*args)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            procs = list(getattr(pool, "_processes", {}).values())  # a build may run ~100 s
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                proc.terminate()
