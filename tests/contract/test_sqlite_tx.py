"""The one write transaction keeps the error that matters when its rollback fails too."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from contract.sqlite_tx import immediate


def _db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE t(x INTEGER)")
    return conn


class RolledBackBehindOurBack:
    """A connection as SQLite leaves it after ENOSPC or a corrupt page: the failing statement
    already ended the transaction, so our ROLLBACK finds none."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.sql: list[str] = []

    def execute(self, sql: str, /) -> object:
        self.sql.append(sql)
        if sql == "ROLLBACK":
            self.conn.execute("ROLLBACK")  # the real one…
            return self.conn.execute("ROLLBACK")  # …and ours: "no transaction is active"
        return self.conn.execute(sql)


def test_commits_the_block(tmp_path: Path) -> None:
    conn = _db(tmp_path / "a.db")
    with immediate(conn):
        conn.execute("INSERT INTO t VALUES (1)")
    assert not conn.in_transaction
    assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_rolls_back_and_reraises(tmp_path: Path) -> None:
    conn = _db(tmp_path / "a.db")
    with pytest.raises(KeyError), immediate(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        raise KeyError("boom")
    assert not conn.in_transaction
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)


def test_disk_full_is_the_error_raised_when_rollback_fails_too(tmp_path: Path) -> None:
    conn = _db(tmp_path / "a.db")
    wrapped = RolledBackBehindOurBack(conn)
    full = sqlite3.OperationalError("database or disk is full")
    with pytest.raises(sqlite3.OperationalError) as info, immediate(wrapped):
        conn.execute("INSERT INTO t VALUES (1)")
        raise full
    assert info.value is full, "the rollback's error must not replace the original"
    assert any("cannot rollback" in n for n in getattr(info.value, "__notes__", []))
    assert wrapped.sql == ["BEGIN IMMEDIATE", "ROLLBACK"]
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)


def test_a_real_disk_full_is_raised_as_itself(tmp_path: Path) -> None:
    """SQLITE_FULL from a file capped at its page count: the disk-full error, not a rollback one."""
    conn = _db(tmp_path / "a.db")
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count={pages + 1}")
    with pytest.raises(sqlite3.OperationalError, match="full"), immediate(conn):
        conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(100_000)])
    assert not conn.in_transaction
    with immediate(conn):  # the connection is usable again
        conn.execute("INSERT INTO t VALUES (1)")


def test_on_rollback_runs_and_its_failure_is_only_noted(tmp_path: Path) -> None:
    conn = _db(tmp_path / "a.db")
    calls: list[str] = []

    def reread() -> None:
        calls.append("reread")
        raise sqlite3.DatabaseError("database disk image is malformed")

    with pytest.raises(ValueError, match="original") as info, immediate(conn, reread):
        raise ValueError("original")
    assert calls == ["reread"]
    assert any("malformed" in n for n in getattr(info.value, "__notes__", []))


def test_a_failing_commit_is_rolled_back(tmp_path: Path) -> None:
    """A deferred foreign key fails at COMMIT: the transaction must not stay open."""
    conn = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    conn.executescript(
        "PRAGMA foreign_keys=ON; CREATE TABLE p(id INTEGER PRIMARY KEY);"
        "CREATE TABLE c(p INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED);"
    )
    with pytest.raises(sqlite3.IntegrityError), immediate(conn):
        conn.execute("INSERT INTO c VALUES (7)")
    assert not conn.in_transaction
    assert conn.execute("SELECT COUNT(*) FROM c").fetchone() == (0,)
