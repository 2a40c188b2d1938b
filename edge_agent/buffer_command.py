"""`campus-twin agent buffer recover CONFIG FILE`: what `scan` (buffer_recover.py) finds in a
corrupt buffer file, queued in the config's live buffer for sending."""

from __future__ import annotations

import sys
from pathlib import Path

from edge_agent.buffer import DiskQueue
from edge_agent.buffer_faults import StorageError
from edge_agent.buffer_recover import scan
from edge_agent.config import load_agent_config


def recover(config: str | Path, file: str | Path) -> int:
    """`agent buffer recover CONFIG FILE`: scan FILE, queue what it holds in the config's live
    buffer (the running agent picks it up within a second), print what was and was not found.
    Exit 0 when done (even with nothing to salvage), 2 when FILE cannot be used, 3 when the
    live buffer cannot be written."""
    cfg = load_agent_config(str(config))
    src = Path(file)
    live = cfg.buffer.path
    if not src.is_file():
        print(f"error: {src}: no such file", file=sys.stderr)
        return 2
    if live.exists() and src.resolve() == live.resolve():
        print(f"error: {src} is the live buffer of {config}; name the file moved aside", file=sys.stderr)
        return 2
    found = scan(src)
    print(f"{src}: {found.summary()}")
    for problem in found.problems:
        print(f"  {problem}")
    if not found.rows:
        return 0
    b = cfg.buffer
    accepted, dropped = 0, dict[str, int]()
    try:
        queue = DiskQueue(live, cfg.site, cfg.agent, b.max_bytes, b.max_age_s, b.overflow)
        try:
            for i in range(0, len(found.rows), 5000):
                result = queue.put_rows(found.rows[i : i + 5000])
                accepted += result.accepted
                for reason, n in result.drops.dropped.items():
                    dropped[reason] = dropped.get(reason, 0) + n
        finally:
            queue.close()
    except StorageError as exc:
        print(f"error: {exc} ({accepted} readings queued before it)", file=sys.stderr)
        return 3
    lost = ", ".join(f"{n} ({r})" for r, n in sorted(dropped.items()))
    print(
        f"queued {accepted} readings in {live} for sending"
        + (f"; dropped by the buffer's bounds: {lost}" if lost else "")
        + " — run this once per file: a second run queues them again"
    )
    return 0
