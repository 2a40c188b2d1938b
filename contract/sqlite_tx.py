"""The one SQLite write transaction: `with immediate(conn): …` = BEGIN IMMEDIATE … COMMIT.

Every SQLite file of the project (the agent's buffer and retention window, the quarantine, the
ingest delivery ledger, the SQLite store) writes through this, on connections opened with
`isolation_level=None` (autocommit: the transaction is ours, not the driver's).

Why one helper: when a statement fails because the disk is full or the file is corrupt, SQLite
may already have rolled the transaction back itself, so a hand-written `except: ROLLBACK`
fails with "cannot rollback - no transaction is active" and that second error is what reached
the log, masking ENOSPC. Here the original error is always the one raised; a failed ROLLBACK
is chained to it as a note (`add_note`, shown under its traceback) and never replaces it.

Why in `contract/` and not `ops/`: the store may import only `contract` (tests/test_layering.py),
and every user (edge_agent, ops, ingest, store) may import `contract`. Like `yamlio.py` it is a
standard-library-only helper every layer shares, not part of a wire shape.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol


class Executes(Protocol):
    """What the helper needs of a connection (a `sqlite3.Connection`, or a test's wrapper)."""

    def execute(self, sql: str, /) -> object: ...


@contextmanager
def immediate(
    conn: Executes | sqlite3.Connection, on_rollback: Callable[[], object] | None = None
) -> Iterator[None]:
    """BEGIN IMMEDIATE (take the write lock now, so a busy file fails here and not halfway),
    COMMIT at the end of the block, ROLLBACK on any error — including a failing COMMIT — and
    re-raise the original error even when the ROLLBACK itself fails.

    `on_rollback` runs after a rollback: owners that mirror the file in memory reread it there
    (the buffer's counters) or take back what they handed in (the quarantine's pending records);
    its own failure is noted, never raised in the original's place."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException as exc:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error as rollback_exc:
            # usually "cannot rollback - no transaction is active": SQLite already rolled back
            exc.add_note(f"(rollback after it also failed: {rollback_exc})")
        if on_rollback is not None:
            try:
                on_rollback()
            except sqlite3.Error as later:
                exc.add_note(f"(after the rollback, rereading the file also failed: {later})")
        raise
