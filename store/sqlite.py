"""The embedded default store: one SQLite file, zero set-up.

Why these choices:
- WAL lets FastAPI's threadpool read while the ingest thread writes; `synchronous=FULL` makes
  a returned `write` survive power loss, which is what "ack only after durable write" needs.
- A point's identity is (series, ts): `INSERT … ON CONFLICT DO UPDATE` makes a redelivered
  batch store each point once (last write wins).
- Series metadata (quantity, unit, room tags) lives once per series, not per point, and is
  upserted only when this store has not seen it yet or it changed (an in-memory cache of series
  ids): a batch then costs one statement of points, not one statement per series too (that
  was ~45 % of a write). The points go in primary-key order as multi-row `VALUES` upserts
  (`PointParams`, below). `latest` is `max(ts)` on the (series_id, ts) primary key, an index
  seek; the `last_ts` column is set on insert only, kept for files written by older versions.
- Writes go through one connection under a lock (its page cache stays warm); each reading
  thread has its own connection; `busy_timeout` covers a second process on the same file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import tzinfo
from functools import lru_cache
from itertools import chain, repeat
from operator import itemgetter
from pathlib import Path

import numpy as np

from contract.sqlite_tx import immediate
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

# Series rows, many per statement (a fresh ingest process meets thousands of series in its first
# write; one statement each made that write last ~0.3 s per 4,000 series under the write lock).
_UPSERT_SERIES_TAIL = """
ON CONFLICT (site, device, point) DO UPDATE SET
    quantity = excluded.quantity,
    unit = excluded.unit,
    tags = excluded.tags,
    last_ts = coalesce(series.last_ts, excluded.last_ts)
RETURNING site, device, point, id"""


def upsert_series(
    conn: sqlite3.Connection, rows: Sequence[tuple[str, str, str, str, str, str, int]]
) -> dict[tuple[str, str, str], int]:
    """Upsert (site, device, point, quantity, unit, tags JSON, first ts) rows; their ids by key."""
    per = max(1, min(500, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // 7))
    ids: dict[tuple[str, str, str], int] = {}
    for i in range(0, len(rows), per):
        part = rows[i : i + per]
        sql = f"INSERT INTO series (site, device, point, quantity, unit, tags, last_ts) VALUES {','.join(['(?,?,?,?,?,?,?)'] * len(part))}{_UPSERT_SERIES_TAIL}"
        for site, device, point, sid in conn.execute(sql, list(chain.from_iterable(part))):
            ids[(site, device, point)] = int(sid)
    return ids


# Points go as multi-row `VALUES` upserts in the primary key's order (series id, ts): a write's
# rows then reach each B-tree leaf once, in order, instead of one random leaf per row — at 1M rows
# 1.8-2.5× faster than the same rows in arrival order (docs/performance-history.md "Key-ordered writes"). One
# statement binds thousands of rows and runs them in one `sqlite3_step` with the GIL released, so a
# write overlaps ingest's decoding (`executemany` re-takes the GIL around every row). A write whose
# rows are all `GoodRows` binds 4 values per row instead of 6.
_UPSERT_TAIL = """
ON CONFLICT (series_id, ts) DO UPDATE SET
    value = excluded.value, quality = excluded.quality,
    reason = excluded.reason, agent = excluded.agent"""
_ROW_ALL = "(?,?,?,?,?,?)"  # series id, ts, value, quality, reason, agent
_ROW_GOOD = "(?,?,?,'good',NULL,?)"  # series id, ts, value, agent
MAX_ROWS_PER_STATEMENT = 4096  # a power of two; larger statements measured no faster, cost more memory


@lru_cache(maxsize=2 * 16)
def upsert_values(rows: int, all_good: bool) -> str:
    """The upsert of `rows` rows (sizes are powers of two, so few statements are compiled and
    sqlite3's statement cache keeps them)."""
    one = _ROW_GOOD if all_good else _ROW_ALL
    return f"INSERT INTO points (series_id, ts, value, quality, reason, agent) VALUES {','.join([one] * rows)}{_UPSERT_TAIL}"


def statement_sizes(n: int, largest: int) -> Iterator[int]:
    """`n` rows as statements of `largest` rows, the rest in falling powers of two."""
    size = largest
    while n:
        while size > n:
            size //= 2
        yield size
        n -= size


def configure(conn: sqlite3.Connection, busy_ms: int = 30_000) -> None:
    """Every connection's settings (the bench's ceiling uses them too): WAL, so readers run
    beside the writer; synchronous=FULL, so a returned write survives power loss."""
    conn.execute(f"PRAGMA busy_timeout={busy_ms}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")


def rows_per_statement(conn: sqlite3.Connection) -> int:
    """The largest power of two of rows (≤ MAX_ROWS_PER_STATEMENT) whose 6 parameters each fit
    this SQLite build's variable limit (999 before 3.32, 32,766 after, often more)."""
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // 6
    rows = MAX_ROWS_PER_STATEMENT
    while rows > limit:
        rows //= 2
    return rows


@dataclass(frozen=True, slots=True)
class PointParams:
    """A write's points as one flat parameter list in primary-key order, built outside the write
    lock (the statements run while the next write's parameters are built)."""

    flat: list[object]
    rows: int
    all_good: bool

    @classmethod
    def of(
        cls, groups: Sequence[RowGroup], series_ids: Sequence[Sequence[int]], ordered: bool = True
    ) -> PointParams:
        """`series_ids`: each group's rows' series ids. `ordered=False` keeps arrival order (the
        bench's comparison only)."""
        all_good = all(isinstance(rows, GoodRows) for _s, _a, rows in groups)
        sids: list[int] = []
        tss: list[int] = []
        vals: list[float | None] = []
        agents: list[str | None] = []
        quals: list[str] = []
        reasons: list[str | None] = []
        for (_site, agent, rows), group_ids in zip(groups, series_ids, strict=True):
            sids += group_ids
            tss += map(_TS, rows)
            vals += map(_VALUE, rows)
            agents += repeat(agent or None, len(rows))
            if all_good:
                continue
            if isinstance(rows, GoodRows):
                quals += repeat(Quality.GOOD.value, len(rows))
                reasons += repeat(None, len(rows))
            else:
                quals += map(_QUALITY, rows)
                reasons += map(_REASON, rows)
        cols: list[Sequence[object]] = (
            [sids, tss, vals, agents] if all_good else [sids, tss, vals, quals, reasons, agents]
        )
        if ordered and len(sids) > 1:
            # stable: two rows of one series and ts keep their order, so the later one wins
            order = np.lexsort((np.array(tss, dtype=np.int64), np.array(sids, dtype=np.int64))).tolist()
            pick = itemgetter(*order)
            cols = [pick(c) for c in cols]
        return cls(list(chain.from_iterable(zip(*cols, strict=True))), len(sids), all_good)

    def put(self, conn: sqlite3.Connection, largest: int) -> None:
        width = 4 if self.all_good else 6
        start = 0
        for size in statement_sizes(self.rows, largest):
            conn.execute(upsert_values(size, self.all_good), self.flat[start : start + size * width])
            start += size * width


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
        self._tags_seen: object = None  # the tag mapping `_verified` was checked against
        # site -> (device, point, quantity, unit) -> series id, for series checked against the
        # tag mapping `_tags_seen`: the write fast path is one lookup per row here
        self._verified: dict[str, dict[tuple[str, str, str, str], int]] = {}
        self._closed = False
        self._writer: sqlite3.Connection | None = None
        with self._write_lock:
            self._conn().executescript(SCHEMA)

    # ------------------------------------------------------------ connections

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"store {self.path} is closed", retryable=False)
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def _open(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"store {self.path} is closed", retryable=False)
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            configure(conn, self._busy_ms)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}", retryable=False) from exc
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """The one write connection (used under `_write_lock`): its page cache stays warm from
        one write to the next, where a connection per writer thread starts each write cold."""
        if self._writer is None:
            self._writer = self._open()
        with self._errors():
            yield self._writer

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._errors():
            yield self._conn()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:  # e.g. locked beyond busy_timeout
            raise StoreError(f"{self.path}: {exc}", retryable=True) from exc
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}", retryable=False) from exc

    # ------------------------------------------------------------ Store

    def write(self, points: Sequence[StoredPoint]) -> None:
        write_points(self, points)

    def write_rows(self, groups: Sequence[RowGroup], tags: RoomTagMap) -> None:
        """One transaction: new or changed series upserted, then the points (`PointParams`). When
        every series is known — nearly every write — the parameters are built before taking the
        write lock, so they overlap the previous write's statements."""
        if not any(rows for _s, _a, rows in groups):
            return
        known = self._known_ids(groups, tags)
        params = None if known is None else PointParams.of(groups, known)
        with self._write_lock, self._writing() as conn:
            fresh: dict[tuple[str, str, str], tuple[str, str, int]] = {}
            if params is None:
                # decided under the lock: writers that started together on a fresh store would
                # otherwise each upsert the same thousands of series
                known = self._known_ids(groups, tags)
                fresh = {} if known is not None else self._fresh_series(groups, tags)
            with immediate(conn):
                rooms = {k: dict(tags[k]) for k in fresh}
                new_ids = upsert_series(
                    conn,
                    [
                        (*k, q, u, json.dumps(dict(sorted(rooms[k].items())), ensure_ascii=False), ts)
                        for k, (q, u, ts) in fresh.items()
                    ],
                )
                added = {k: (new_ids[k], q, u, rooms[k]) for k, (q, u, _ts) in fresh.items()}
                if params is None:
                    params = PointParams.of(
                        groups, self._series_ids(groups, added) if known is None else known
                    )
                params.put(conn, rows_per_statement(conn))
            # only once committed: a rolled-back series id is not kept
            self._series.update(added)
            for (s, d, p), (i, q, u, _t) in added.items():
                self._verified.setdefault(s, {})[(d, p, q, u)] = i

    def _known_ids(self, groups: Sequence[RowGroup], tags: RoomTagMap) -> list[list[int]] | None:
        """Each group's series ids, when every row's series (with its quantity and unit) was
        verified against this tag mapping; else None (the slow path decides). One dict lookup
        per row."""
        if tags is not self._tags_seen:
            return None
        verified = self._verified
        try:
            return [list(map(verified[site].__getitem__, map(_SERIES, rows))) for site, _a, rows in groups]
        except KeyError:
            return None

    def _series_ids(
        self, groups: Sequence[RowGroup], added: Mapping[tuple[str, str, str], tuple[int, str, str, object]]
    ) -> list[list[int]]:
        """Each group's series ids on the slow path: verified series and the ones just upserted."""
        ids = {site: dict(by_site) for site, by_site in self._verified.items()}
        for (site, device, point), (i, quantity, unit, _tags) in added.items():
            ids.setdefault(site, {})[(device, point, quantity, unit)] = i
        return [list(map(ids[site].__getitem__, map(_SERIES, rows))) for site, _a, rows in groups]

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
            verified = self._verified.setdefault(site, {})
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
                    verified[(device, point, quantity, unit)] = have[0]
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
