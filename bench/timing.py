"""The timing loops and the figure printout every benchmark shares (one copy, not one per bench).

`rate` is throughput (items/s) over at least `min_s` of repeated calls; `best` is the fastest of
`repeat` single calls (the least disturbed by the other processes on a shared machine);
`best_interleaved` does that for several functions in turns, so a burst of load hits all alike.
They measure a candidate and its same-run baseline the same way, so their ratio is what a bench
reports.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def rate(fn: Callable[[], object], n_items: int, min_s: float = 0.5) -> float:
    """Items per second: `fn` handles `n_items` per call and is called for at least `min_s`."""
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_s:
        fn()
        count += 1
    return n_items * count / (time.perf_counter() - start)


def best(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    """The fastest of `repeat` calls in seconds, and the last call's result."""
    t = time.perf_counter()
    out = fn()
    fastest = time.perf_counter() - t
    for _ in range(repeat - 1):
        t = time.perf_counter()
        out = fn()
        fastest = min(fastest, time.perf_counter() - t)
    return fastest, out


def best_interleaved(fns: list[Callable[[], object]], repeat: int) -> list[float]:
    """The fastest time of each function, called in turns so load on a shared machine hits all alike."""
    fastest = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            fastest[i] = min(fastest[i], time.perf_counter() - t)
    return fastest


def print_figures(result: Mapping[str, Any], as_json: bool) -> None:
    """One `name value` line per figure; with `as_json`, the figures as one JSON line last."""
    width = max((len(k) for k in result), default=0) + 2
    for k, v in result.items():
        print(f"{k:{width}s} {v}")
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
