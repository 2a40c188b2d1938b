"""Supervised long-lived tasks: a task that fails is logged at once, with its traceback, and
restarted with backoff — never a "Task exception was never retrieved" at shutdown, and never a
gateway that looks alive while its uplink is dead.

The runtime supervises each source, the uplink and the housekeeping; a source supervises its own
independent parts the same way (each Modbus line, each logger input), so one line's failure
restarts that line only.

Two kinds: a *source* (one protocol's input) is restarted for as long as the agent runs — one
failing source never stops the others; an *essential* task (the uplink, housekeeping) that fails
more than `budget` times within `window_s` cannot be kept alive by restarting: the supervisor
records why (`fatal`) and sets `fatal_event`, the agent stops and the process exits non-zero, so
systemd restarts it (`Restart=on-failure`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from edge_agent.backoff import Backoff

log = logging.getLogger("edge_agent.supervise")


@dataclass
class TaskRecord:
    name: str
    essential: bool
    failures_total: int = 0
    last_error: str | None = None
    recent: deque[float] = field(default_factory=deque)


class Supervisor:
    def __init__(
        self,
        min_s: float = 0.5,
        max_s: float = 30.0,
        budget: int = 5,
        window_s: float = 300.0,
    ) -> None:
        self.min_s, self.max_s, self.budget, self.window_s = min_s, max_s, budget, window_s
        self.tasks: dict[str, TaskRecord] = {}
        self.fatal: str | None = None
        self.fatal_event = asyncio.Event()

    def start(
        self,
        name: str,
        factory: Callable[[], Awaitable[None]],
        until: asyncio.Event,
        essential: bool = False,
        on_failure: Callable[[Exception], None] | None = None,
    ) -> asyncio.Task[None]:
        """Run `factory()` as task `name`; after a failure (`on_failure` is told first, e.g. to put
        the task's devices DOWN), run it again unless `until` is set."""
        record = self.tasks[name] = TaskRecord(name, essential)
        return asyncio.create_task(self._keep(record, factory, until, on_failure), name=name)

    async def _keep(
        self,
        rec: TaskRecord,
        factory: Callable[[], Awaitable[None]],
        until: asyncio.Event,
        on_failure: Callable[[Exception], None] | None,
    ) -> None:
        backoff = Backoff(self.min_s, self.max_s)
        while True:
            started = time.monotonic()
            try:
                await factory()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                now = time.monotonic()
                rec.failures_total += 1
                rec.last_error = f"{type(exc).__name__}: {exc}"
                rec.recent.append(now)
                while rec.recent and now - rec.recent[0] > self.window_s:
                    rec.recent.popleft()
                if now - started > self.max_s:
                    backoff.reset()  # it ran a good while: a fresh failure, not a crash loop
                if on_failure is not None:
                    on_failure(exc)
                if rec.essential and len(rec.recent) > self.budget:
                    self.fatal = f"{rec.name} failed {len(rec.recent)} times within {self.window_s:.0f}s: {rec.last_error}"
                    log.critical(
                        "task %s cannot be kept running (%s); stopping the agent with exit code 1 "
                        "so that the service manager restarts it",
                        rec.name,
                        self.fatal,
                        exc_info=exc,
                    )
                    self.fatal_event.set()
                    return
                if until.is_set():
                    log.error("task %s failed while stopping: %s", rec.name, rec.last_error, exc_info=exc)
                    return
                delay = backoff.next()
                log.error(
                    "task %s failed: %s; restarting in %.1fs (failure %d)",
                    rec.name,
                    rec.last_error,
                    delay,
                    rec.failures_total,
                    exc_info=exc,
                )
                waiter = asyncio.ensure_future(until.wait())
                try:
                    await asyncio.wait({waiter}, timeout=delay)
                finally:
                    waiter.cancel()
                if until.is_set():
                    return


async def join(tasks: list[asyncio.Task[None]]) -> None:
    """Wait for every task; whatever ends the wait (a stop, a cancellation) ends them all, so a
    source never leaves a line's or an input's task behind."""
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
