"""The buffer's two storage faults as designed behaviour: a full disk and a corrupt file.

A full disk (SQLite's SQLITE_FULL "database or disk is full", or OSError ENOSPC) is a state the
gateway lives through, not a crash: the buffer applies its overflow policy, counts what it could
not store under the drop reason `disk_full`, and says so in one line naming the file and the
free space — again at most every `DISK_FULL_LOG_S` while it lasts, and once when space is back.

Why a reserve file (`<buffer>.reserve`, `RESERVE_BYTES`, made while there is room): in WAL mode
SQLite can reuse its own pages only after a checkpoint has copied the write-ahead log into the
database, and that copy may need the database to grow. On a disk already full nothing can be
written any more — not even the deletions drop_oldest needs. Releasing the reserve gives that
one checkpoint its room; after it the buffer stays within the pages it has (see
`DiskQueue.put_rows`) until the disk has room again, when the reserve is made again.

A corrupt file (SQLITE_CORRUPT "database disk image is malformed", SQLITE_NOTADB "file is not a
database") found at start is renamed aside with a UTC timestamp (kept for
`campus-twin agent buffer recover`), and a fresh buffer starts.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("edge_agent.buffer")

DISK_FULL_LOG_S = 60.0  # a full disk is said again at most this often (with what it cost since)
FULL_BELOW_BYTES = 1024 * 1024  # less free than this is a full disk for `agent check`
# free space from which a full disk is writable again: more than SQLite's write-ahead log takes
# back between two checkpoints (~4 MB), so the end of an episode is not the start of the next
ROOM_AGAIN_BYTES = 8 * 1024 * 1024
RESERVE_BYTES = 2 * 1024 * 1024  # > the WAL between two checkpoints (wal_autocheckpoint, buffer.py)
WAL_CHECKPOINT_PAGES = 256  # 1 MiB of 4 KiB pages: the WAL's size, what the reserve must cover
_SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CORRUPT, _SQLITE_NOTADB = 10, 13, 11, 26


class StorageError(RuntimeError):
    """The buffer file cannot be used (an I/O error, corruption found while running): the
    message names the file and SQLite's reason. A full disk is *not* raised as this; the buffer
    handles it (see the module docstring)."""


def is_disk_full(exc: BaseException, path: Path | None = None) -> bool:
    """SQLITE_FULL or ENOSPC; with `path`, also an SQLite I/O error while its filesystem has
    (almost) nothing free — SQLite reports a failed -shm/-wal allocation that way."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if (code is not None and code & 0xFF == _SQLITE_FULL) or "disk is full" in str(exc):
            return True
        io = (code is not None and code & 0xFF == _SQLITE_IOERR) or "disk I/O error" in str(exc)
        return io and path is not None and _free_bytes(path) < FULL_BELOW_BYTES
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


def _usage(path: Path) -> tuple[int, int]:
    """(free, total) bytes of the filesystem holding `path` (its folder if it is not there yet)."""
    usage = shutil.disk_usage(path if path.exists() else path.parent)
    return usage.free, usage.total


def _free_bytes(path: Path) -> int:
    try:
        return _usage(path)[0]
    except OSError:
        return 0


def free_space(path: Path) -> str:
    """`12.0 KiB free of 256.0 KiB` for the filesystem holding `path`."""
    try:
        free, total = _usage(path)
    except OSError as exc:
        return f"free space unknown ({exc.strerror or exc})"
    return f"{_size(free)} free of {_size(total)}"


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

    def hit(self, exc: BaseException, doing: str) -> None:
        """A write failed for lack of space: the disk is full from now on (until `ok`)."""
        if self.full:
            self._remind()
            return
        self.full, self._said = True, self._now()
        log.error(
            "buffer %s: disk full (ENOSPC: %s) while %s; %s — until there is room again, readings "
            "are dropped and counted as disk_full (policy %s: %s)",
            self.path,
            exc,
            doing,
            free_space(self.path),
            self.policy,
            "the oldest make room for the newest"
            if self.policy == "drop_oldest"
            else "new readings are refused",
        )

    def count(self, dropped: int) -> None:
        """Readings the full disk cost."""
        self._dropped_since += dropped
        self._dropped_episode += dropped
        self._remind()

    def _remind(self) -> None:
        now = self._now()
        if now - self._said < DISK_FULL_LOG_S:
            return
        self._said = now
        log.error(
            "buffer %s: disk still full (%s): %d readings dropped in the last %.0f s (disk_full)",
            self.path,
            free_space(self.path),
            self._dropped_since,
            DISK_FULL_LOG_S,
        )
        self._dropped_since = 0

    @property
    def reserve(self) -> Path:
        return self.path.with_name(self.path.name + ".reserve")

    def keep_reserve(self) -> None:
        """Make the reserve file if it is missing and the disk has room for it (else later)."""
        if self.reserve.exists() or _free_bytes(self.path) < RESERVE_BYTES + FULL_BELOW_BYTES:
            return
        try:
            fd = os.open(self.reserve, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(fd, 0, RESERVE_BYTES)
            finally:
                os.close(fd)
        except OSError as exc:  # a filesystem without fallocate: no reserve, the rest still holds
            log.debug("buffer reserve %s not made: %s", self.reserve, exc)
            with contextlib.suppress(OSError):
                self.reserve.unlink()

    def release_reserve(self) -> bool:
        """The disk is full: give the reserve's room to the buffer. True if there was one."""
        try:
            self.reserve.unlink()
        except OSError:
            return False
        return True

    def room_again(self) -> bool:
        """Is the disk still full? If it has room again, say so once and make the reserve. (On
        a full disk some writes succeed in pages SQLite frees; that is not the end of it.)"""
        if not self.full:
            return True
        if _free_bytes(self.path) < ROOM_AGAIN_BYTES:
            return False
        log.warning(
            "buffer %s: writable again (%s); %d readings were dropped while the disk was full "
            "(counted: disk_full)",
            self.path,
            free_space(self.path),
            self._dropped_episode,
        )
        self.full = False
        self._dropped_since = self._dropped_episode = 0
        self.keep_reserve()
        return True


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
