"""`campus-twin quarantine show|count`: the one reader of every process's quarantine (ops/quarantine.py).

The file is named directly, or found from an agent or ingest config (`--agent` / `--ingest`), so
a technician on a gateway and an operator on the server use the same command and output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REASON_SAMPLE = 100_000  # newest records whose reasons `count` tallies


def _path(args: argparse.Namespace) -> Path | None:
    if args.agent:
        from edge_agent.config import load_agent_config

        return load_agent_config(args.agent).quarantine_path
    if args.ingest:
        from ingest.config import load_config

        return load_config(args.ingest).quarantine_path
    return Path(args.file) if args.file else None


@dataclass
class _Read:
    path: Path
    counts: dict[str, int]
    records: list[Any]  # ops.quarantine.QuarantineRecord, newest first

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _read(args: argparse.Namespace, limit: int) -> _Read | None:
    """The named quarantine, read-only; an absent file is an empty quarantine (nothing yet)."""
    from ops.quarantine import Quarantine

    path = _path(args)
    if path is None:
        print("name the quarantine file, or give --agent CONFIG or --ingest CONFIG")
        return None
    if not path.exists():
        return _Read(path, {}, [])
    q = Quarantine(path, readonly=True)
    try:
        return _Read(path, q.counts(), q.records(limit, args.source))
    finally:
        q.close()


def _show(args: argparse.Namespace) -> int:
    got = _read(args, args.limit)
    if got is None:
        return 2
    if args.json:
        doc = {"total": got.total, "counts": got.counts, "records": [r.to_json() for r in got.records]}
        print(json.dumps(doc, ensure_ascii=False))
        return 0
    if not got.path.exists():
        print(f"no quarantine file at {got.path} (nothing quarantined yet) / 尚无隔离记录")
        return 0
    print(f"{got.total} quarantined in total (隔离总数); newest {len(got.records)} in {got.path}:")
    for r in got.records:
        when = dt.datetime.fromtimestamp(r.ts_ns / 1e9).isoformat(timespec="seconds")
        doc = r.to_json()  # binary payloads as base64, never U+FFFD text
        body = str(doc["payload"])[:200] + (" (base64)" if doc["payload_encoding"] == "base64" else "")
        print(f"- {when} [{r.source}] {r.topic}\n    reason:  {r.reason}\n    payload: {body}")
    return 0


def _count(args: argparse.Namespace) -> int:
    got = _read(args, REASON_SAMPLE)
    if got is None:
        return 2
    reasons = Counter((r.source, r.reason.split(":")[-1].strip()[:80]) for r in got.records)
    if args.json:
        common = [[s, r, n] for (s, r), n in reasons.most_common(20)]
        print(json.dumps({"total": got.total, "counts": got.counts, "reasons": common}, ensure_ascii=False))
        return 0
    print(f"{got.total} quarantined in total (隔离总数) in {got.path}")
    for source, n in sorted(got.counts.items()):
        print(f"{n:8d}  {source}")
    if reasons:
        print("most common reasons among the kept records (常见原因):")
        for (source, reason), n in reasons.most_common(20):
            print(f"{n:8d}  {source:9s}  {reason}")
    return 0


def _target(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", help="the quarantine SQLite file")
    p.add_argument("--agent", metavar="CONFIG", help="an agent config: its quarantine file")
    p.add_argument("--ingest", metavar="CONFIG", help="an ingest config: its quarantine file")
    p.add_argument("--source", help="only this source (mqtt, normalise, payload, store)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def register(sub: Any) -> None:
    from contract.cli import group

    cmds = group(sub, "quarantine", "Quarantined input of the agent or ingest (隔离区): records and counts.")
    p = cmds.add_parser("show", help="quarantined records, newest first, with topic and reason")
    _target(p)
    p.add_argument("--limit", type=int, default=20, help="newest N records (default 20)")
    p.set_defaults(func=_show)
    p = cmds.add_parser("count", help="counts per source (survive trimming) and the commonest reasons")
    _target(p)
    p.set_defaults(func=_count)
