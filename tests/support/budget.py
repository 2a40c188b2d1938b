"""How much work a property test does: the whole suite (`make test`) runs every example; the
edit-test loop (`make unit-fast`, CT_FAST=1) runs a tenth, at least 10, so a newcomer's loop stays
in seconds while CI keeps the full search."""

from __future__ import annotations

import os

FAST = os.environ.get("CT_FAST") == "1"


def examples(n: int) -> int:
    return max(10, n // 10) if FAST else n
