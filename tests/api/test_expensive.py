"""Long builds run in a worker process, and still run (in the thread) where none can start."""

from __future__ import annotations

import multiprocessing
from typing import Any

from api.expensive import ProcessBuilds


def _in_daemon(q: Any) -> None:
    builds = ProcessBuilds()
    q.put((builds.run(sum, [1, 2, 3]), builds._unavailable))


def test_process_builds_run_in_a_worker_and_fall_back_in_a_daemonic_process() -> None:
    builds = ProcessBuilds()
    try:
        assert builds.run(sum, [4, 5]) == 9 and builds._pool is not None
    finally:
        builds.close()
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    proc = ctx.Process(target=_in_daemon, args=(q,), daemon=True)  # may not have children
    proc.start()
    assert q.get(timeout=60) == (6, True)
    proc.join(timeout=30)
