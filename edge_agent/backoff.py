"""Reconnect delays: exponential with full jitter, capped, reset after a success.

Jitter keeps a district's gateways from reconnecting in lockstep after the broker restarts;
the cap (a few seconds by default) keeps the gap after the broker is back short.
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self.min_s, self.max_s = min_s, max(max_s, min_s)
        self._rng = rng or random.Random()
        self._attempt = 0

    def next(self) -> float:
        """The delay before the next attempt: uniform in [min, min(max, min·2^n)]."""
        ceiling = min(self.max_s, self.min_s * 2**self._attempt)
        self._attempt = min(self._attempt + 1, 32)
        return self._rng.uniform(self.min_s, ceiling)

    def reset(self) -> None:
        self._attempt = 0
