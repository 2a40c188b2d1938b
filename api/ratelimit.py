"""Failed sign-ins and unknown tokens, counted per client: too many in a window → 429.

Why: without it a script can try tokens as fast as the API answers (300 wrong, then the right
one, was accepted). A client (its address) that failed `max_failures` times within `window_s`
is refused with 429 and `Retry-After` until the oldest counted failure leaves the window —
even with the right token, so guessing gains nothing. Memory is bounded: at most
`max_clients` addresses are tracked (the least recently failing one is forgotten first), each
with at most `max_failures` timestamps. Each refusal is logged once per client and window.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

log = logging.getLogger("campus_twin.api.auth")


class FailureLimiter:
    def __init__(
        self,
        *,
        max_failures: int = 10,
        window_s: float = 300.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_clients = max_clients
        self._clock = clock
        self._fails: OrderedDict[str, deque[float]] = OrderedDict()
        self._logged: dict[str, float] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._fails)

    def _prune(self, client: str, now: float) -> deque[float] | None:
        q = self._fails.get(client)
        if q is None:
            return None
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            del self._fails[client]
            self._logged.pop(client, None)
            return None
        return q

    def retry_after(self, client: str) -> int | None:
        """Seconds until `client` may try again; None = not blocked."""
        now = self._clock()
        with self._lock:
            q = self._prune(client, now)
            if q is None or len(q) < self.max_failures:
                return None
            wait = max(1, math.ceil(q[0] + self.window_s - now))
            if self._logged.get(client) != q[0]:
                self._logged[client] = q[0]
                log.warning(
                    "auth rate limit: client %s refused for %d s after %d failures in %.0f s",
                    client,
                    wait,
                    len(q),
                    self.window_s,
                )
            return wait

    def fail(self, client: str) -> None:
        now = self._clock()
        with self._lock:
            q = self._prune(client, now)
            if q is None:
                q = self._fails[client] = deque(maxlen=self.max_failures)
                while len(self._fails) > self.max_clients:
                    old, _ = self._fails.popitem(last=False)
                    self._logged.pop(old, None)
            else:
                self._fails.move_to_end(client)
            q.append(now)
