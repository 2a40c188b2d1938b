"""The store interface every backend implements and the twin/API read through.

Synchronous on purpose: writers run in ingest's writer threads, readers in FastAPI's
threadpool. Every backend has one write path, `write_rows`: validated contract rows grouped by
(site, agent) plus room tags per series, so ingest never builds an object per point; `write`
(points, for tests, write-back and tools) converts to rows and takes the same path. A write
returns only when the points are durable, and is idempotent on (series, ts): writing the same
point twice stores it once (last write wins).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from enum import StrEnum
from typing import Protocol, runtime_checkable

from contract.telemetry import GoodRows, Quality, Row, SeriesKey


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
    start: int  # ns UTC, window start (aligned to `every` from `store.windows.window_origin`)
    value: float | None
    count: int


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    key: SeriesKey
    quantity: str
    unit: str
    tags: Mapping[str, str] = field(default_factory=dict)


RowGroup = tuple[str, str, Sequence[Row] | GoodRows]  # (site, agent, rows)
RoomTagMap = Mapping[tuple[str, str, str], Mapping[str, str]]  # (site, device, point) -> room tags


def points_to_rows(
    points: Sequence[StoredPoint],
) -> tuple[list[RowGroup], dict[tuple[str, str, str], Mapping[str, str]]]:
    """`StoredPoint`s as row groups + room tags (one tag set per series: the last one given).
    Raises ValueError for a quality that is not good/uncertain/bad."""
    groups: dict[tuple[str, str], list[Row]] = {}
    tags: dict[tuple[str, str, str], Mapping[str, str]] = {}
    for p in points:
        k = p.key
        groups.setdefault((k.site, p.agent or ""), []).append(
            (k.device, k.point, p.quantity, p.value, p.unit, p.ts, Quality(p.quality), p.reason)
        )
        tags[(k.site, k.device, k.point)] = p.tags
    return [(site, agent, rows) for (site, agent), rows in groups.items()], tags


def write_points(store: Store, points: Sequence[StoredPoint]) -> None:
    """`Store.write` on top of `write_rows`: points in runs where each series has one tag set
    (a series re-bound to another room within one call is written under both, in order)."""
    run: list[StoredPoint] = []
    seen: dict[SeriesKey, Mapping[str, str]] = {}
    for p in points:
        if seen.setdefault(p.key, p.tags) != p.tags:
            store.write_rows(*points_to_rows(run))
            run, seen = [], {p.key: p.tags}
        run.append(p)
    if run:
        store.write_rows(*points_to_rows(run))


class StoreError(RuntimeError):
    """A write or query failed; `retryable` tells the writer whether backing off can help."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@runtime_checkable
class Store(Protocol):
    def write_rows(self, groups: Sequence[RowGroup], tags: RoomTagMap) -> None:
        """Durably store validated rows (upsert on series+ts); `tags` holds every row's series.
        Raises StoreError; a row the backend cannot represent goes to its reject sink."""

    def write(self, points: Sequence[StoredPoint]) -> None:
        """`write_rows` for points (same result). Raises StoreError."""

    def latest(self, keys: Sequence[SeriesKey] | None = None) -> dict[SeriesKey, StoredPoint]:
        """Newest point of each series (all series when `keys` is None)."""

    def range(
        self,
        key: SeriesKey,
        start: int,
        end: int,
        every: int | None = None,
        agg: Agg = Agg.MEAN,
        tz: tzinfo | None = None,
    ) -> list[Window]:
        """Points in [start, end) aggregated per `every` ns window; raw points (count=1) when None.
        Windows start on local midnight (Mondays for whole weeks) of `tz`, on the epoch without
        one (`store.windows.window_origin`). Only points with quality good/uncertain and a value
        take part in aggregates. Raises ValueError for inputs outside `store.windows.check_range`."""

    def series(self, tags: Mapping[str, str] | None = None) -> list[SeriesInfo]:
        """Known series, optionally only those whose tags include all of `tags`."""

    def close(self) -> None: ...
