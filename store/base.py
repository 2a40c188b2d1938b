"""The store interface every backend implements and the twin/API read through.

Synchronous on purpose: writers run in the ingest worker thread, readers in FastAPI's
threadpool. `write` returns only when the points are durable, and is idempotent on
(series, ts): writing the same point twice stores it once (last write wins).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from contract.telemetry import SeriesKey


class Agg(StrEnum):
    MEAN = "mean"
    MIN = "min"
    MAX = "max"
    LAST = "last"
    COUNT = "count"


@dataclass(frozen=True, slots=True)
class StoredPoint:
    key: SeriesKey
    ts: int  # ns UTC, time of the read
    value: float | None
    quantity: str
    unit: str
    quality: str = "good"
    reason: str | None = None
    agent: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)  # room tags from the binding table


@dataclass(frozen=True, slots=True)
class Window:
    start: int  # ns UTC, window start (aligned to `every` from the epoch)
    value: float | None
    count: int


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    key: SeriesKey
    quantity: str
    unit: str
    tags: Mapping[str, str] = field(default_factory=dict)


class StoreError(RuntimeError):
    """A write or query failed; `retryable` tells the writer whether backing off can help."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@runtime_checkable
class Store(Protocol):
    def write(self, points: Sequence[StoredPoint]) -> None:
        """Durably store `points` (upsert on series+ts). Raises StoreError."""

    def latest(self, keys: Sequence[SeriesKey] | None = None) -> dict[SeriesKey, StoredPoint]:
        """Newest point of each series (all series when `keys` is None)."""

    def range(
        self,
        key: SeriesKey,
        start: int,
        end: int,
        every: int | None = None,
        agg: Agg = Agg.MEAN,
    ) -> list[Window]:
        """Points in [start, end) aggregated per `every` ns window; raw points (count=1) when None.
        Only points with quality good/uncertain and a value take part in aggregates."""

    def series(self, tags: Mapping[str, str] | None = None) -> list[SeriesInfo]:
        """Known series, optionally only those whose tags include all of `tags`."""

    def close(self) -> None: ...
