"""`campus-twin ingest …` commands. Registering imports nothing heavy; handlers import lazily."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from contract.cli import group


def _run(args: argparse.Namespace) -> int:
    from ingest.config import load_config
    from ingest.service import IngestService

    IngestService(load_config(args.config)).run()
    return 0


def _check(args: argparse.Namespace) -> int:
    """Config, secrets, binding table and store reachable; prints what it checked."""
    from contract.bindings import BindingTable
    from contract.secrets import SecretError
    from ingest.config import load_config
    from store.base import StoreError
    from store.factory import open_store

    cfg = load_config(args.config)
    print(f"config {args.config}: ok (store {cfg.store.type}, share group {cfg.share_group})")
    problems = 0
    try:
        store = open_store(cfg.store)
        n = len(store.series())
        store.close()
        print(f"store: reachable, {n} series")
    except (StoreError, SecretError, OSError, ImportError) as exc:
        problems += 1
        print(f"store: {exc}")
    if cfg.bindings:
        try:
            table = BindingTable.load(cfg.bindings)
            print(f"bindings {cfg.bindings}: {len(table.bindings)} bindings")
        except (OSError, ValueError) as exc:
            problems += 1
            print(f"bindings {cfg.bindings}: {exc}")
    return 1 if problems else 0


def _quarantine(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ingest.quarantine import read_rejects

    if args.dir:
        directory = Path(args.dir)
    elif not args.config:
        print("give a config or --dir")
        return 2
    else:
        from ingest.config import load_config

        directory = load_config(args.config).quarantine_dir
    rejects = list(read_rejects(directory))
    by = Counter((r.kind, r.reason.split(":")[-1].strip()[:80]) for r in rejects)
    print(f"{len(rejects)} quarantined in {directory}")
    for (kind, reason), n in by.most_common(20):
        print(f"{n:8d}  {kind:7s}  {reason}")
    for r in rejects[-args.last :] if args.last else []:
        print(f"--- {r.received_ns} {r.kind} {r.topic or ''}\n    {r.reason}\n    {r.payload[:300]!r}")
    return 0


def register(sub: Any) -> None:
    cmds = group(
        sub,
        "ingest",
        "Ingest: consume agents' upstream MQTT, validate, enrich with rooms, write to SQLite or InfluxDB.",
    )
    p = cmds.add_parser("run", help="consume and write until SIGTERM (SIGHUP reloads the binding table)")
    p.add_argument("config", help="ingest config YAML")
    p.set_defaults(func=_run)
    p = cmds.add_parser("check", help="validate the config and reach the store")
    p.add_argument("config", help="ingest config YAML")
    p.set_defaults(func=_check)
    p = cmds.add_parser("quarantine", help="summarise quarantined payloads and refused points")
    p.add_argument("config", nargs="?", help="ingest config YAML (for quarantine_dir)")
    p.add_argument("--dir", help="quarantine directory instead of a config")
    p.add_argument("--last", type=int, default=5, help="also show the newest N entries")
    p.set_defaults(func=_quarantine)
