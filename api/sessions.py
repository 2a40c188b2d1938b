"""Browser sessions: an HttpOnly, SameSite=Strict cookie holding a random id, plus a CSRF token.

Why not the bearer token in the browser: anything in localStorage/sessionStorage is readable by
any script that ever runs on the page. The login endpoint trades the token for a session id the
page's JavaScript cannot read; writes made with the cookie must echo the session's CSRF token
in `X-CSRF-Token` (double submit through the JSON login response, never a cookie). A session
remembers only the token's digest and re-checks it on every request, so revoking or expiring
the token ends its sessions at once, also across a restart.

Sessions live in SQLite (`sessions_file` in the API config; in memory when unset), so restarting
the API does not sign everyone out. Only the SHA-256 of a session id is stored: a copy of the
file does not let anyone take over a session. Expiry is wall-clock time (monotonic time does
not survive a restart).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

COOKIE = "ct_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id_sha256 BLOB PRIMARY KEY,
    token_sha256 BLOB NOT NULL,
    csrf TEXT NOT NULL,
    expires_s REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_s);
"""


@dataclass(frozen=True, slots=True)
class Session:
    digest: bytes  # the token's SHA-256
    csrf: str
    expires_s: float  # unix seconds


def _id_hash(sid: str) -> bytes:
    return hashlib.sha256(sid.encode("utf-8")).digest()


class SessionBook:
    """Sessions in one SQLite file (or in memory), at most `max_sessions`, each `ttl_s` long."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        ttl_s: float = 12 * 3600,
        max_sessions: int = 10_000,
    ) -> None:
        self.ttl_s = ttl_s
        self._max = max_sessions
        self._now = time.time
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            ":memory:" if path is None else str(path), check_same_thread=False, isolation_level=None
        )
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        if path is not None:
            path.chmod(0o600)  # CSRF tokens are in it

    def open(self, digest: bytes) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        sess = Session(digest, secrets.token_urlsafe(24), self._now() + self.ttl_s)
        with self._lock:
            (count,) = self._db.execute("SELECT count(*) FROM sessions").fetchone()
            if count >= self._max:
                self._db.execute("DELETE FROM sessions WHERE expires_s <= ?", (self._now(),))
                # still full: drop the sessions that end soonest (the oldest)
                self._db.execute(
                    "DELETE FROM sessions WHERE id_sha256 IN "
                    "(SELECT id_sha256 FROM sessions ORDER BY expires_s LIMIT max(0, "
                    "(SELECT count(*) FROM sessions) - ? + 1))",
                    (self._max,),
                )
            self._db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?)", (_id_hash(sid), digest, sess.csrf, sess.expires_s)
            )
        return sid, sess

    def get(self, sid: str | None) -> Session | None:
        """The live session with this id; an expired one is deleted and None returned."""
        if not sid:
            return None
        key = _id_hash(sid)
        with self._lock:
            row = self._db.execute(
                "SELECT token_sha256, csrf, expires_s FROM sessions WHERE id_sha256 = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            sess = Session(bytes(row[0]), str(row[1]), float(row[2]))
            if sess.expires_s <= self._now():
                self._db.execute("DELETE FROM sessions WHERE id_sha256 = ?", (key,))
                return None
        return sess

    def close(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                self._db.execute("DELETE FROM sessions WHERE id_sha256 = ?", (_id_hash(sid),))

    def end_for_token(self, digest: bytes) -> int:
        """End every session opened with this token (its revocation); returns how many."""
        with self._lock:
            return self._db.execute("DELETE FROM sessions WHERE token_sha256 = ?", (digest,)).rowcount

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT count(*) FROM sessions").fetchone()
        return int(count)
