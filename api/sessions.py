"""Browser sessions: an HttpOnly, SameSite=Strict cookie holding a random id, plus a CSRF token.

Why not the bearer token in the browser: anything in localStorage/sessionStorage is readable by
any script that ever runs on the page. The login endpoint trades the token for a session id the
page's JavaScript cannot read; writes made with the cookie must echo the session's CSRF token
in `X-CSRF-Token` (double submit through the JSON login response, never a cookie). A session
remembers only the token's digest and re-checks it on every request, so revoking or expiring
the token ends its sessions at once.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

COOKIE = "ct_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Session:
    digest: bytes  # the token's SHA-256
    csrf: str
    expires_s: float  # monotonic


class SessionBook:
    """In-memory sessions (one API process; a restart signs everyone out, by design)."""

    def __init__(self, ttl_s: float = 12 * 3600, max_sessions: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self._max = max_sessions
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, digest: bytes) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        sess = Session(digest, secrets.token_urlsafe(24), time.monotonic() + self.ttl_s)
        with self._lock:
            if len(self._by_id) >= self._max:
                self._expire_locked()
                while len(self._by_id) >= self._max:  # still full: drop the oldest
                    self._by_id.pop(next(iter(self._by_id)))
            self._by_id[sid] = sess
        return sid, sess

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._lock:
            sess = self._by_id.get(sid)
            if sess is not None and sess.expires_s <= time.monotonic():
                del self._by_id[sid]
                return None
        return sess

    def close(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                self._by_id.pop(sid, None)

    def _expire_locked(self) -> None:
        now = time.monotonic()
        for k in [k for k, s in self._by_id.items() if s.expires_s <= now]:
            del self._by_id[k]
