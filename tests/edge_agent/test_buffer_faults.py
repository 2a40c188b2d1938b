"""The buffer on a full disk and with a corrupt file: counted, said once, never a crash.

A full disk is emulated with SQLite's `max_page_count` (the file may not grow: SQLITE_FULL,
"database or disk is full", the error ENOSPC gives) or a connection that fails its writes; the
fault suite (tests/faults) fills a real filesystem.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from edge_agent import buffer_faults
from edge_agent.buffer import DiskQueue
from edge_agent.buffer_command import recover
from edge_agent.buffer_recover import scan
from edge_agent.commands_check import buffer_warnings
from edge_agent.retention import Retention, RetentionConfig
from tests.edge_agent.test_agent_buffer import queue, readings

GiB = 1 << 30


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The free space the buffer sees (`disk["free"]`), on a 1 GiB disk."""
    state = {"free": GiB // 2}
    monkeypatch.setattr(buffer_faults, "_usage", lambda _p: (state["free"], GiB))
    return state


def cap(q: DiskQueue, disk: dict[str, int]) -> None:
    """The disk is full: the file cannot grow beyond its pages now, nothing is free."""
    (pages,) = q._db.execute("PRAGMA page_count").fetchone()
    q._db.execute(f"PRAGMA max_page_count={pages}")
    disk["free"] = 0


def uncap(q: DiskQueue, disk: dict[str, int]) -> None:
    q._db.execute("PRAGMA max_page_count=1073741823")
    disk["free"] = GiB // 2


def enospc_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "ENOSPC" in r.getMessage()]


def fill_until_full(q: DiskQueue, start: int = 1000) -> tuple[int, int]:
    """Put 100 readings at a time until the disk refuses some; (readings put, calls)."""
    put = 0
    for call in range(1, 500):
        r = q.put(readings(100, start + put))
        put += 100
        if r.drops.dropped.get("disk_full"):
            return put, call
    raise AssertionError("the capped buffer never reported a full disk")


def test_refuse_newest_counts_disk_full_says_it_once_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, disk: dict[str, int]
) -> None:
    path = tmp_path / "q.sqlite"
    q = queue(path, overflow="refuse_newest")
    q.put(readings(50))
    cap(q, disk)
    caplog.set_level(logging.INFO, "edge_agent.buffer")
    put, _ = fill_until_full(q)
    refused = [q.put(readings(100, 100_000 + 100 * i)) for i in range(5)]  # still full
    assert all(r.accepted == 0 and r.drops.dropped == {"disk_full": 100} for r in refused)
    st = q.stats()
    assert st.dropped["disk_full"] >= 600
    assert st.depth + st.dropped["disk_full"] == 50 + put + 500, "every reading stored or counted"
    lines = enospc_lines(caplog)
    assert len(lines) == 1, lines  # rate-limited: one line for the whole episode
    assert str(path) in lines[0] and "free of" in lines[0] and "disk_full" in lines[0]

    uncap(q, disk)  # space is back
    assert q.put(readings(10, 900_000)).accepted == 10
    back = [r.getMessage() for r in caplog.records if "writable again" in r.getMessage()]
    assert len(back) == 1 and f"{st.dropped['disk_full']} readings were dropped" in back[0]
    q.close()
    assert queue(path).stats().dropped["disk_full"] == st.dropped["disk_full"], "counts survive a restart"


def test_drop_oldest_makes_room_and_counts_what_it_removed(tmp_path: Path, disk: dict[str, int]) -> None:
    q = queue(tmp_path / "q.sqlite", overflow="drop_oldest")
    q.put(readings(2000))
    cap(q, disk)
    total = 2000
    for i in range(30):
        r = q.put(readings(100, 10_000 + 100 * i))
        total += 100
        assert r.accepted == 100, "drop_oldest keeps the newest readings on a full disk"
    st = q.stats()
    assert st.dropped["disk_full"] > 0
    assert st.depth + st.dropped["disk_full"] == total, "every reading stored or counted"
    newest = [r for b in iter(lambda: q.seal(500), None) for r in _values(b.payload)]
    assert newest[-1] == float(10_000 + 100 * 29 + 99)


def _values(payload: bytes) -> list[float]:
    from contract.telemetry import decode_batch

    return [float(r.value or 0) for r in decode_batch(payload).readings]


class FullDisk:
    """A connection whose writes fail as on a full disk (reads work, as they do)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.lstrip().split()[0].upper() in {"INSERT", "DELETE", "UPDATE"}:
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)

    def executemany(self, sql: str, rows: Any) -> Any:
        return self.execute(sql, rows) if sql.startswith("INSERT") else self.conn.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def test_uplink_storage_calls_never_raise_on_a_full_disk(tmp_path: Path) -> None:
    """What the uplink calls (seal, keep, trim, confirm) degrades instead of killing it."""
    q = queue(tmp_path / "q.sqlite")
    ret = Retention(q, RetentionConfig())
    q.put(readings(20))
    sealed = q.seal(10)
    assert sealed is not None
    real = q._db
    ret._db = q._db = FullDisk(real)  # type: ignore[assignment]
    assert q.seal(10) is None, "nothing sealed: the readings stay pending"
    assert ret.keep(sealed.seq) is False, "the batch stays queued (sent again, never lost)"
    assert ret.trim() == 0
    assert q.expire().dropped == {}
    ret._db = q._db = real
    assert q.stats().depth == 20 and q.pending_readings == 10
    assert [b.seq for b in q.unacked()] == [sealed.seq]
    assert ret.keep(sealed.seq) is True


def test_other_storage_failures_are_a_clear_storage_error(tmp_path: Path) -> None:
    q = queue(tmp_path / "q.sqlite")
    q.put(readings(5))

    class Broken(FullDisk):
        def execute(self, sql: str, *args: Any) -> Any:
            if sql.startswith("INSERT"):
                raise sqlite3.OperationalError("disk I/O error")
            return self.conn.execute(sql, *args)

    q._db = Broken(q._db)  # type: ignore[assignment]
    with pytest.raises(buffer_faults.StorageError, match=r"q\.sqlite: storing 3 readings failed: disk I/O"):
        q.put(readings(3))


def _corrupt_buffer(path: Path) -> int:
    """A buffer with sealed batches and pending readings, then cut short (a torn write, a bad
    SD card): returns the readings it held."""
    q = queue(path)
    q.put(readings(3000))
    for _ in range(3):
        q.seal(400)
    q.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return 3000


def test_corrupt_buffer_moved_aside_fresh_buffer_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "q.sqlite"
    held = _corrupt_buffer(path)
    caplog.set_level(logging.INFO, "edge_agent.buffer")
    q = queue(path)
    aside = q.moved_aside
    assert aside is not None and aside.exists() and aside.name.startswith("q.sqlite.corrupt-")
    st = q.stats()
    assert st.depth == 0
    found = scan(aside)
    assert 0 < len(found.rows) < held
    assert st.dropped["corrupt_buffer"] == found.unreadable
    assert found.unreadable > 0 or found.unknown
    assert q.next_seq >= 3 or found.next_seq is None, "batch numbers continue where they can be read"
    line = next(r.getMessage() for r in caplog.records if "is corrupt" in r.getMessage())
    assert str(aside) in line and "buffer recover" in line
    q.put(readings(5, 50_000))  # the fresh buffer works
    assert q.stats().depth == 5


def test_not_a_database_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    path.write_bytes(b"this is no sqlite file\n" * 100)
    q = queue(path)
    assert q.moved_aside is not None and q.moved_aside.read_bytes().startswith(b"this is no")
    assert q.stats().depth == 0
    found = scan(q.moved_aside)
    assert found.rows == [] and found.unknown


def test_recover_queues_what_still_reads_into_the_live_buffer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live = tmp_path / "buf" / "q.sqlite"
    live.parent.mkdir()
    _corrupt_buffer(live)
    q = queue(live)  # as `agent run` starts: moved aside, fresh buffer
    aside = q.moved_aside
    assert aside is not None
    before = aside.read_bytes()
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(
        f"site: s1\nagent: gw-A\nupstream: {{broker: {{host: 127.0.0.1, port: 1883}}}}\nbuffer: {{path: {live}}}\n",
        encoding="utf-8",
    )
    found = scan(aside)
    assert recover(cfg, aside) == 0
    out = capsys.readouterr().out
    assert f"queued {len(found.rows)} readings" in out
    assert aside.read_bytes() == before, "the evidence is never changed"
    assert q.stats().depth == len(found.rows), "the running agent's buffer sees them"
    values = [v for b in iter(lambda: q.seal(1000), None) for v in _values(b.payload)]
    assert len(values) == len(set(values)) == len(found.rows), "each salvaged reading once"
    assert recover(cfg, live) == 2, "the live buffer itself is refused"


def test_check_reports_a_corrupt_buffer_and_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "q.sqlite"
    _corrupt_buffer(path)
    assert any("is corrupt" in w and "buffer recover" in w for w in buffer_warnings(path))
    healthy = tmp_path / "ok.sqlite"
    queue(healthy).close()
    assert buffer_warnings(healthy) == []

    monkeypatch.setattr(buffer_faults, "_usage", lambda _p: (0, GiB))
    assert any("disk full" in w and "0 B free of 1.0 GiB" in w for w in buffer_warnings(healthy))
