"""One worker thread for all disk I/O (queue, quarantine), so fsyncs never stall the event loop
(which stamps Modbus reads) and SQLite connections stay on one thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class DbThread:
    def __init__(self) -> None:
        self._ex = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agent-db")

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._ex, lambda: fn(*args, **kwargs))

    def close(self) -> None:
        self._ex.shutdown(wait=True)
