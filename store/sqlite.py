"""The embedded default store: one SQLite file, zero set-up.

Why these choices:
- WAL lets FastAPI's threadpool read while the ingest thread writes; `synchronous=FULL` makes
  a returned `write` survive power loss, which is what "ack only after durable write" needs.
- A point's identity is (series, ts): `INSERT … ON CONFLICT DO UPDATE` makes a redelivered
  batch store each point once (last write wins).
- Series metadata (quantity, unit, room tags) lives once per series, not per point, and is
  upserted only when this store has not seen it yet or it changed (an in-memory cache of series
  ids): a batch then costs one statement of points, not one statement per series too (that
  was ~45 % of a write). The points go as one JSON parameter (`UPSERT_POINTS_JSON`) so the
  statement holds the GIL once, not once per row. `latest` is `max(ts)` on the (series_id, ts)
  primary key, an index seek;
  the `last_ts` column is set on insert only, kept for files written by older versions.
- Each thread gets its own connection (sqlite3 connections are not thread-safe); writes are
  serialised by a lock and `busy_timeout` covers a second process on the same file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import tzinfo
from itertools import chain, repeat
from operator import itemgetter
from pathlib import Path

from contract.telemetry import GoodRows, Quality, SeriesKey
from store.base import Agg, RoomTagMap, RowGroup, SeriesInfo, StoredPoint, StoreError, Window, write_points
from store.windows import check_range, window_origin

SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id       INTEGER PRIMARY KEY,
    site     TEXT NOT NULL,
    device   TEXT NOT NULL,
    point    TEXT NOT NULL,
    quantity TEXT NOT NULL,
    unit     TEXT NOT NULL,
    tags     TEXT NOT NULL DEFAULT '{}',
    last_ts  INTEGER,
    UNIQUE (site, device, point)
);
CREATE TABLE IF NOT EXISTS points (
    series_id INTEGER NOT NULL REFERENCES series(id),
    ts        INTEGER NOT NULL,
    value     REAL,
    quality   TEXT NOT NULL,
    reason    TEXT,
    agent     TEXT,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
"""

UPSERT_SERIES = """
INSERT INTO series (site, device, point, quantity, unit, tags, last_ts)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (site, device, point) DO UPDATE SET
    quantity = excluded.quantity,
    unit = excluded.unit,
    tags = excluded.tags,
    last_ts = coalesce(series.last_ts, excluded.last_ts)
RETURNING id
"""

# The same upsert with the batch as one JSON parameter: SQLite reads the rows itself, so the
# statement holds the GIL once, not once per row as `executemany` does (Python's sqlite3 releases
# and re-takes it around every step, so a write could not run beside ingest's decoding). Floats
# travel as msgspec's shortest round-trip text, which SQLite parses back to the same double
# (tests/store: random doubles round-trip exactly). `->>` needs SQLite 3.38; older: executemany.
UPSERT_POINTS_JSON = """
INSERT INTO points (series_id, ts, value, quality, reason, agent)
SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5 FROM json_each(?) WHERE true
ON CONFLICT (series_id, ts) DO UPDATE SET
    value = excluded.value, quality = excluded.quality,
    reason = excluded.reason, agent = excluded.agent
"""
# A write whose groups are all `GoodRows` (quality good, no reason: nearly every ingest write)
# sends only what varies per row — [series id, ts, value, agent index], the agents as a second
# JSON array — so SQLite extracts 4 fields per row instead of 6 (the bare statement on 1M rows:
# ≈ 136k against 123k points/s, docs/performance.md "SQLite steady state").
UPSERT_GOOD_POINTS_JSON = """
INSERT INTO points (series_id, ts, value, quality, reason, agent)
SELECT value->>0, value->>1, value->>2, 'good', NULL, ?2 ->> (value->>3) FROM json_each(?1) WHERE true
ON CONFLICT (series_id, ts) DO UPDATE SET
    value = excluded.value, quality = excluded.quality,
    reason = excluded.reason, agent = excluded.agent
"""
try:
    from msgspec.json import encode as _json_encode
except ImportError:  # pragma: no cover - an install without msgspec: executemany
    _json_encode = None  # type: ignore[assignment]
_JSON_ROWS = _json_encode is not None and sqlite3.sqlite_version_info >= (3, 38)

UPSERT_POINT = """
INSERT INTO points (series_id, ts, value, quality, reason, agent) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (series_id, ts) DO UPDATE SET
    value = excluded.value, quality = excluded.quality,
    reason = excluded.reason, agent = excluded.agent
"""

_DEVICE, _POINT, _VALUE, _TS, _QUALITY, _REASON = (itemgetter(i) for i in (0, 1, 3, 5, 6, 7))
_SERIES = itemgetter(0, 1, 2, 4)  # (device, point, quantity, unit) of a row

# A point takes part in aggregates when it has a value and is not bad (see Store.range).
_VALID = "value IS NOT NULL AND quality != 'bad'"

_AGG_SQL = {
    Agg.MEAN: "avg(value)",
    Agg.MIN: "min(value)",
    Agg.MAX: "max(value)",
    Agg.COUNT: "count(value)",
}


class SQLiteStore:
    """`Store` on a local SQLite file; safe for one writer thread plus concurrent readers."""

    def __init__(self, path: str | Path, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_ms = int(busy_timeout_s * 1000)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._write_lock = threading.Lock()
        # (site, device, point) -> (id, quantity, unit, room tags) as last written by this store
        self._series: dict[tuple[str, str, str], tuple[int, str, str, Mapping[str, str]]] = {}
        self._ids: dict[str, dict[tuple[str, str], int]] = {}  # site -> (device, point) -> series id
        self._tags_seen: object = None  # the tag mapping `_verified` was checked against
        self._verified: dict[
            str, set[tuple[str, str, str, str]]
        ] = {}  # site -> (device, point, quantity, unit)
        self._closed = False
        with self._write_lock:
            conn = self._conn()
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)

    # ------------------------------------------------------------ connections

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"store {self.path} is closed", retryable=False)
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")
                conn.execute("PRAGMA synchronous=FULL")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open {self.path}: {exc}", retryable=False) from exc
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._conn()
        except sqlite3.OperationalError as exc:  # e.g. locked beyond busy_timeout
            raise StoreError(f"{self.path}: {exc}", retryable=True) from exc
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}", retryable=False) from exc

    # ------------------------------------------------------------ Store

    def write(self, points: Sequence[StoredPoint]) -> None:
        write_points(self, points)

    def write_rows(self, groups: Sequence[RowGroup], tags: RoomTagMap) -> None:
        """One transaction: new or changed series upserted, then the points in one statement
        (`UPSERT_GOOD_POINTS_JSON` when every group is `GoodRows`, else `UPSERT_POINTS_JSON`;
        parameters made at C speed from the rows; `executemany` where SQLite or msgspec cannot)."""
        if not any(rows for _s, _a, rows in groups):
            return
        fresh = self._fresh_series(groups, tags)
        with self._write_lock, self._reading() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                added: dict[tuple[str, str, str], tuple[int, str, str, dict[str, str]]] = {}
                for k, (quantity, unit, ts) in fresh.items():
                    room = dict(tags[k])
                    tag_json = json.dumps(dict(sorted(room.items())), ensure_ascii=False)
                    row = conn.execute(UPSERT_SERIES, (*k, quantity, unit, tag_json, ts)).fetchone()
                    added[k] = (int(row[0]), quantity, unit, room)
                ids = self._ids
                new_ids: dict[str, dict[tuple[str, str], int]] = {}  # not in `ids` before the commit
                for (s, d, p), v in added.items():
                    new_ids.setdefault(s, {})[(d, p)] = v[0]
                all_good = _JSON_ROWS and all(isinstance(rows, GoodRows) for _s, _a, rows in groups)
                agents: dict[str | None, int] = {}
                params = []
                for site, agent, rows in groups:
                    by_site = ids.get(site, {})
                    new = new_ids.get(site)
                    sid = {**by_site, **new} if new else by_site
                    series_ids = map(sid.__getitem__, zip(map(_DEVICE, rows), map(_POINT, rows), strict=True))
                    if all_good:
                        index = agents.setdefault(agent or None, len(agents))
                        params.append(zip(series_ids, map(_TS, rows), map(_VALUE, rows), repeat(index)))
                        continue
                    params.append(
                        zip(
                            series_ids,
                            map(_TS, rows),
                            map(_VALUE, rows),
                            repeat(Quality.GOOD.value) if isinstance(rows, GoodRows) else map(_QUALITY, rows),
                            repeat(None) if isinstance(rows, GoodRows) else map(_REASON, rows),
                            repeat(agent or None),
                        )
                    )
                # text, not bytes: SQLite ≥ 3.45 reads a BLOB argument of json_each as JSONB
                if all_good:
                    doc = _json_encode(list(chain.from_iterable(params))).decode()
                    conn.execute(UPSERT_GOOD_POINTS_JSON, (doc, _json_encode(list(agents)).decode()))
                elif _JSON_ROWS:
                    conn.execute(
                        UPSERT_POINTS_JSON, (_json_encode(list(chain.from_iterable(params))).decode(),)
                    )
                else:  # pragma: no cover
                    conn.executemany(UPSERT_POINT, chain.from_iterable(params))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            # only once committed: a rolled-back series id is not kept
            self._series.update(added)
            for site, new in new_ids.items():
                ids.setdefault(site, {}).update(new)
            for (s, d, p), (_i, q, u, _t) in added.items():
                self._verified.setdefault(s, set()).add((d, p, q, u))

    def _fresh_series(
        self, groups: Sequence[RowGroup], tags: RoomTagMap
    ) -> dict[tuple[str, str, str], tuple[str, str, int]]:
        """Series of these rows that are new here or whose quantity, unit or room tags changed:
        key -> (quantity, unit, first ts). A series once checked against a tag mapping object
        is not checked again while the same object is handed (one snapshot, see encode_rows)."""
        if tags is not self._tags_seen or sum(map(len, self._verified.values())) > 1_000_000:
            self._tags_seen, self._verified = tags, {}
        known = self._series
        fresh: dict[tuple[str, str, str], tuple[str, str, int]] = {}
        for site, _agent, rows in groups:
            verified = self._verified.setdefault(site, set())
            first_ts: dict[tuple[str, str], int] | None = None
            for device, point, quantity, unit in set(map(_SERIES, rows)).difference(verified):
                k = (site, device, point)
                have = known.get(k)
                if have is None or have[1] != quantity or have[2] != unit or have[3] != tags[k]:
                    if k not in fresh:
                        if first_ts is None:  # each series' first time in these rows (reversed: first wins)
                            back = rows[::-1]
                            first_ts = dict(
                                zip(
                                    zip(map(_DEVICE, back), map(_POINT, back), strict=True),
                                    map(_TS, back),
                                    strict=True,
                                )
                            )
                        fresh[k] = (quantity, unit, first_ts[(device, point)])
                else:
                    verified.add((device, point, quantity, unit))
        return fresh

    def latest(self, keys: Sequence[SeriesKey] | None = None) -> dict[SeriesKey, StoredPoint]:
        sql = (
            "SELECT s.site, s.device, s.point, s.quantity, s.unit, s.tags,"
            " p.ts, p.value, p.quality, p.reason, p.agent"
            " FROM series s JOIN points p ON p.series_id = s.id"
            " AND p.ts = (SELECT max(ts) FROM points WHERE series_id = s.id)"
        )
        out: dict[SeriesKey, StoredPoint] = {}
        with self._reading() as conn:
            if keys is None:
                rows = conn.execute(sql).fetchall()
            else:
                rows = []
                for k in dict.fromkeys(keys):
                    rows += conn.execute(
                        sql + " WHERE s.site = ? AND s.device = ? AND s.point = ?",
                        (k.site, k.device, k.point),
                    ).fetchall()
        for site, device, point, quantity, unit, tags, ts, value, quality, reason, agent in rows:
            key = SeriesKey(site, device, point)
            out[key] = StoredPoint(
                key=key,
                ts=ts,
                value=value,
                quantity=quantity,
                unit=unit,
                quality=quality,
                reason=reason,
                agent=agent,
                tags=json.loads(tags),
            )
        return out

    def range(
        self,
        key: SeriesKey,
        start: int,
        end: int,
        every: int | None = None,
        agg: Agg = Agg.MEAN,
        tz: tzinfo | None = None,
    ) -> list[Window]:
        check_range(start, end, every)
        agg = Agg(agg)
        with self._reading() as conn:
            row = conn.execute(
                "SELECT id FROM series WHERE site = ? AND device = ? AND point = ?",
                (key.site, key.device, key.point),
            ).fetchone()
            if row is None:
                return []
            sid = int(row[0])
            if every is None:
                rows = conn.execute(
                    f"SELECT ts, CASE WHEN {_VALID} THEN value END, CASE WHEN {_VALID} THEN 1 ELSE 0 END"
                    " FROM points WHERE series_id = ? AND ts >= ? AND ts < ? ORDER BY ts",
                    (sid, start, end),
                ).fetchall()
                return [Window(ts, value, count) for ts, value, count in rows]
            # Windows start at origin + k·every (floor, also before the origin): store.windows
            bucket = "(ts - (((ts - :origin) % :every) + :every) % :every)"
            origin = window_origin(every, tz, start)
            params = {"sid": sid, "start": start, "end": end, "every": every, "origin": origin}
            where = f"series_id = :sid AND ts >= :start AND ts < :end AND {_VALID}"
            if agg is Agg.LAST:
                # SQLite's documented bare-column rule: with max(ts), `value` comes from that row.
                sql = (
                    f"SELECT {bucket} AS w, value, max(ts), count(*) FROM points"
                    f" WHERE {where} GROUP BY w ORDER BY w"
                )
                rows = conn.execute(sql, params).fetchall()
                return [Window(w, value, count) for w, value, _ts, count in rows]
            sql = (
                f"SELECT {bucket} AS w, {_AGG_SQL[agg]}, count(*) FROM points"
                f" WHERE {where} GROUP BY w ORDER BY w"
            )
            rows = conn.execute(sql, params).fetchall()
        return [Window(w, None if v is None else float(v), count) for w, v, count in rows]

    def series(self, tags: Mapping[str, str] | None = None) -> list[SeriesInfo]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT site, device, point, quantity, unit, tags FROM series ORDER BY site, device, point"
            ).fetchall()
        want = dict(tags or {})
        out = []
        for site, device, point, quantity, unit, tag_json in rows:
            t: dict[str, str] = json.loads(tag_json)
            if all(t.get(k) == v for k, v in want.items()):
                out.append(SeriesInfo(SeriesKey(site, device, point), quantity, unit, t))
        return out

    def count(self) -> int:
        """Number of stored points (tests and the bench compare it with what was published)."""
        with self._reading() as conn:
            return int(conn.execute("SELECT count(*) FROM points").fetchone()[0])

    def close(self) -> None:
        self._closed = True
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with suppress(sqlite3.Error):
                c.close()
