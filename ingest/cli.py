"""`campus-twin ingest …` commands. Registering imports nothing heavy; handlers import lazily."""

from __future__ import annotations

import argparse
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
