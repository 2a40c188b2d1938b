"""The buffer's two storage faults as designed behaviour: a full disk and a corrupt file.

A full disk (SQLite's SQLITE_FULL "database or disk is full", or OSError ENOSPC) is a state the
gateway lives through, not a crash: the buffer applies its overflow policy, counts what it could
not store under the drop reason `disk_full`, and says so in one line naming the file and the
free space — again at most every `DISK_FULL_LOG_S` while it lasts, and once when space is back.

A corrupt file (SQLITE_CORRUPT "database disk image is malformed", SQLITE_NOTADB "file is not a
database") found at start is renamed aside with a UTC timestamp (kept for
`campus-twin agent buffer recover`), and a fresh buffer starts.
"""

from __future__ import annotations

import errno
import logging
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("edge_agent.buffer")

DISK_FULL_LOG_S = 60.0  # a full disk is said again at most this often (with what it cost since)
_SQLITE_FULL, _SQLITE_CORRUPT, _SQLITE_NOTADB = 13, 11, 26


class StorageError(RuntimeError):
    """The buffer file cannot be used (an I/O error, corruption found while running): the
    message names the file and SQLite's reason. A full disk is *not* raised as this; the buffer
    handles it (see the module docstring)."""


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return (code is not None and code & 0xFF == _SQLITE_FULL) or "disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


def is_corrupt(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return True
    text = str(exc)
    return "malformed" in text or "not a database" in text


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def free_space(path: Path) -> str:
    """`12.0 KiB free of 256.0 KiB` for the filesystem holding `path` (its folder if it is gone)."""
    where = path if path.exists() else path.parent
    try:
        usage = shutil.disk_usage(where)
    except OSError as exc:
        return f"free space unknown ({exc.strerror or exc})"
    return f"{_size(usage.free)} free of {_size(usage.total)}"


def storage_error(path: Path, what: str, exc: BaseException) -> StorageError:
    return StorageError(f"buffer {path}: {what} failed: {exc}")


class DiskFull:
    """The rate-limited voice of a full disk, shared by the queue and its retention window."""

    def __init__(self, path: Path, policy: str, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.path, self.policy, self._now = path, policy, monotonic
        self.full = False
        self._said = -DISK_FULL_LOG_S
        self._dropped_since = 0
        self._dropped_episode = 0

    def hit(self, exc: BaseException, dropped: int, doing: str) -> None:
        """A write failed for lack of space; `dropped` readings of it were not stored."""
        self._dropped_since += dropped
        self._dropped_episode += dropped
        now = self._now()
        if self.full and now - self._said < DISK_FULL_LOG_S:
            return
        again = "still " if self.full else ""
        self.full, self._said = True, now
        log.error(
            "buffer %s: disk %sfull (ENOSPC: %s) while %s; %s — readings that cannot be stored are "
            "dropped and counted (reason disk_full, policy %s): %d so far",
            self.path,
            again,
            exc,
            doing,
            free_space(self.path),
            self.policy,
            self._dropped_since,
        )
        self._dropped_since = 0

    def ok(self) -> None:
        """A write succeeded: if the disk was full, say once that it is writable again."""
        if not self.full:
            return
        log.warning(
            "buffer %s: writable again (%s); %d readings were dropped while the disk was full "
            "(counted: disk_full)",
            self.path,
            free_space(self.path),
            self._dropped_episode,
        )
        self.full = False
        self._dropped_since = self._dropped_episode = 0


def move_aside(path: Path, wall_s: float | None = None) -> Path:
    """Rename a corrupt buffer (and its -wal/-journal; the -shm index is rebuilt) to
    `<name>.corrupt-<UTC stamp>`, kept for `agent buffer recover`; returns the new path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if wall_s is None else wall_s))
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    path.rename(aside)
    for suffix in ("-wal", "-journal"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(aside.with_name(aside.name + suffix))
    shm = path.with_name(path.name + "-shm")
    if shm.exists():
        shm.unlink()
    return aside
