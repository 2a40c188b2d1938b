"""Salvage what a corrupt buffer file still holds (`scan`; the command is buffer_command.py).

The agent moves a corrupt buffer aside at start (edge_agent/buffer_faults.py); this reads it
row by row — every table by rowid ranges, a range that fails split in halves down to one row —
so one broken page costs the rows on it, not the file. The readings found (retained and
unacknowledged batches unpacked, then pending readings, oldest first) are queued in the live
buffer as new pending readings: the running agent sends them under new batch numbers (ingest
stores a reading it already had again onto the same series and time, so a resent one costs
nothing). The file itself is never changed: it is read from a copy.

Counted as unreadable: pending readings between the first and last readable one (their ids are
consecutive) and batches whose payload no longer decodes; what was on pages before the first
readable row is unknown, and said so.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHUNK = 512  # rows per read; a failing range is halved down to one row


@dataclass
class Salvage:
    """What a buffer file still holds, readable (`rows`) and not."""

    rows: list[str] = field(default_factory=list)  # wire rows, oldest first
    pending: int = 0  # of rows: readings not yet in a batch
    batches: int = 0  # batches read (unacknowledged or retained)
    batch_readings: int = 0  # of rows: readings unpacked from them
    next_seq: int | None = None  # the file's next batch number, when readable
    unreadable: int = 0  # readings known lost (a lower bound)
    unknown: bool = False  # some part could not even be counted
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lost = f"{self.unreadable}" + (" + an unknown number" if self.unknown else "")
        return (
            f"{len(self.rows)} readings readable ({self.batch_readings} from {self.batches} batches, "
            f"{self.pending} pending); unreadable: {lost}"
        )


def _ranges(lo: int, hi: int, size: int) -> Iterator[tuple[int, int]]:
    while lo <= hi:
        yield lo, min(hi, lo + size - 1)
        lo += size


def _read(db: sqlite3.Connection, sql: str, lo: int, hi: int, bad: list[tuple[int, int]]) -> list[Any]:
    """Rows of `sql` (… WHERE key BETWEEN ? AND ?) over lo..hi, halving failing ranges; the
    single keys that still fail go to `bad`."""
    try:
        return db.execute(sql, (lo, hi)).fetchall()
    except sqlite3.DatabaseError:
        if lo == hi:
            bad.append((lo, hi))
            return []
        mid = (lo + hi) // 2
        return _read(db, sql, lo, mid, bad) + _read(db, sql, mid + 1, hi, bad)


def _one(db: sqlite3.Connection, sql: str) -> Any:
    try:
        row = db.execute(sql).fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def _bounds(
    db: sqlite3.Connection, table: str, key: str, upper: Callable[[], Any]
) -> tuple[int, int, bool] | None:
    """The key range to scan and whether it is the table's own (MIN/MAX answered: every key in
    it existed, as ids and seqs are consecutive) or a guess 0..upper()."""
    try:
        lo, hi = db.execute(f"SELECT MIN({key}), MAX({key}) FROM {table}").fetchone()
        exact = True
    except sqlite3.DatabaseError:
        lo, hi, exact = 0, upper(), False
        if not isinstance(hi, int):
            return 0, -1, False  # nothing to scan, and nothing known: the caller says unknown
    if not isinstance(lo, int) or not isinstance(hi, int):
        return None  # an empty table
    return lo, hi, exact


def _rows_of(payload: bytes) -> list[str] | None:
    try:
        doc = json.loads(payload)
        rows = doc["r"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            return None
    except (ValueError, KeyError, TypeError):
        return None
    return [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in rows]


def _batches(
    db: sqlite3.Connection, table: str, out: Salvage, upper: int | None
) -> list[tuple[int, list[str]]]:
    bounds = _bounds(db, table, "seq", lambda: upper)
    if bounds is None:
        return []
    first, last, exact = bounds
    out.unknown |= not exact and last < first
    found: list[tuple[int, list[str]]] = []
    bad: list[tuple[int, int]] = []
    sql = f"SELECT seq, n, payload FROM {table} WHERE seq BETWEEN ? AND ?"
    for lo, hi in _ranges(first, last, CHUNK):
        for seq, n, payload in _read(db, sql, lo, hi, bad):
            rows = _rows_of(payload if isinstance(payload, bytes) else str(payload).encode())
            if rows is None:
                out.unreadable += int(n) if isinstance(n, int) else 0
                out.unknown |= not isinstance(n, int)
                out.problems.append(f"{table} seq {seq}: payload does not decode")
                continue
            found.append((int(seq), rows))
    if bad:
        out.unknown = True
        out.problems.append(f"{table}: {len(bad)} batch number(s) unreadable")
    return found


def scan(file: str | Path) -> Salvage:
    """Everything readable in buffer file `file` (read from a copy; `file` is not changed)."""
    src = Path(file)
    out = Salvage()
    with tempfile.TemporaryDirectory(prefix="buffer-recover-") as tmp:
        copy = Path(tmp) / "buffer.sqlite"
        shutil.copyfile(src, copy)
        for suffix in ("-wal", "-journal"):
            side = src.with_name(src.name + suffix)
            if side.exists():
                shutil.copyfile(side, copy.with_name(copy.name + suffix))
        db = sqlite3.connect(copy, isolation_level=None)
        try:
            # a file cut short: trust its real size, not the page count in its header
            db.execute("PRAGMA writable_schema=ON")
            _scan(db, out)
        except sqlite3.DatabaseError as exc:  # not even the schema reads
            out.unknown = True
            out.problems.append(f"{src}: {exc}")
        finally:
            db.close()
    return out


def _scan(db: sqlite3.Connection, out: Salvage) -> None:
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    meta_next = _one(db, "SELECT value FROM meta WHERE key = 'next_seq'") if "meta" in tables else None
    seqs = [meta_next] if isinstance(meta_next, int) else []
    batches: list[tuple[int, list[str]]] = []
    for table in ("retained", "batches"):
        if table in tables:
            batches += _batches(db, table, out, meta_next)
    for table in ("batches", "retained", "evicted"):
        if table in tables:
            top = _one(db, f"SELECT MAX(seq) FROM {table}")
            if isinstance(top, int):
                seqs.append(top + 1)
    seqs += [s + 1 for s, _ in batches]
    out.next_seq = max(seqs) if seqs else None
    for _, rows in sorted(batches):
        out.rows += rows
        out.batches += 1
        out.batch_readings += len(rows)
    if "pending" in tables:
        _pending(db, out)


def _pending(db: sqlite3.Connection, out: Salvage) -> None:
    last = _one(db, "SELECT seq FROM sqlite_sequence WHERE name = 'pending'")
    bounds = _bounds(db, "pending", "id", lambda: last)
    if bounds is None:
        return
    first, final, exact = bounds
    out.unknown |= not exact and final < first
    bad: list[tuple[int, int]] = []
    ids: list[int] = []
    for lo, hi in _ranges(first, final, CHUNK):
        for rid, row in _read(db, "SELECT id, row FROM pending WHERE id BETWEEN ? AND ?", lo, hi, bad):
            try:
                ok = isinstance(row, str) and isinstance(json.loads(row), list)
            except ValueError:
                ok = False
            if ok:
                ids.append(int(rid))
                out.rows.append(row)
                out.pending += 1
            else:
                out.unreadable += 1
    if bad:
        # pending ids are consecutive: within the table's own MIN..MAX every failing id was a
        # reading; in a guessed range only those after the first readable one surely were
        known = len(bad) if exact else sum(1 for lo, _ in bad if ids and lo > ids[0])
        out.unreadable += known
        out.unknown |= known < len(bad)
        out.problems.append(f"pending: {len(bad)} row id(s) unreadable")
