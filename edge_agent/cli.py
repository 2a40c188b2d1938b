"""`campus-twin agent …` commands. Registering imports nothing heavy; handlers import lazily."""

from __future__ import annotations

import argparse
import json
from typing import Any

from contract.cli import group


def register(sub: Any) -> None:
    cmds = group(
        sub,
        "agent",
        "Edge agent on a campus gateway: poll Modbus, subscribe MQTT sensors, buffer on disk, forward upstream.",
    )
    p = cmds.add_parser("run", help="Run the agent until SIGTERM/SIGINT (then flush and exit).")
    p.add_argument("config", help="agent YAML config")
    p.add_argument("--flush-timeout", type=float, default=10.0, help="seconds to flush upstream on shutdown")
    p.set_defaults(func=_run)

    p = cmds.add_parser("check", help="Validate the config and show each Modbus device's request plan.")
    p.add_argument("config")
    p.set_defaults(func=_check)

    p = cmds.add_parser("plan", help="Print each Modbus device's read requests.")
    p.add_argument("config")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_plan)

    p = cmds.add_parser("probe", help="Read one Modbus device once and print decoded values.")
    p.add_argument("config")
    p.add_argument("--device", required=True, help="device id from the config")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_probe)

    p = cmds.add_parser("quarantine", help="Show quarantined payloads (newest first) with topic and reason.")
    p.add_argument("config")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_quarantine)


def _run(args: argparse.Namespace) -> int:
    from edge_agent.service import run_forever

    return run_forever(args.config, args.flush_timeout)


def _load(args: argparse.Namespace) -> Any:
    from edge_agent.config import load_agent_config

    return load_agent_config(args.config)


def _profiles(cfg: Any) -> Any:
    from device_profiles.loader import LIBRARY_DIR, load_library

    return load_library([LIBRARY_DIR, *cfg.profile_dirs])


def _check(args: argparse.Namespace) -> int:
    from edge_agent.commands_check import check_report

    cfg = _load(args)
    text, ok = check_report(cfg, _profiles(cfg) if cfg.modbus else {})
    print(text)
    return 0 if ok else 2


def _plan(args: argparse.Namespace) -> int:
    from edge_agent.modbus.commands import format_plan, plan_report

    cfg = _load(args)
    report = plan_report(cfg.modbus, _profiles(cfg))
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else format_plan(report))
    return 0


def _probe(args: argparse.Namespace) -> int:
    import asyncio

    from edge_agent.modbus.commands import probe
    from edge_agent.runtime import agent_clock

    cfg = _load(args)
    devices = {d.id: d for d in cfg.modbus}
    if args.device not in devices:
        print(
            f"no modbus device {args.device!r} in {args.config}; known: {', '.join(sorted(devices)) or '-'}"
        )
        return 2
    dev = devices[args.device]
    profiles = _profiles(cfg)
    result = asyncio.run(probe(dev, profiles[dev.profile], agent_clock(cfg)))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        for point, v in result.items():
            val = v.get("value") if isinstance(v, dict) else v
            unit = v.get("unit", "") if isinstance(v, dict) else ""
            quality = v.get("quality", "") if isinstance(v, dict) else ""
            reason = v.get("reason") if isinstance(v, dict) else None
            print(f"{point:24s} {val!s:>14s} {unit:8s} {quality}" + (f"  ({reason})" if reason else ""))
    return 0


def _quarantine(args: argparse.Namespace) -> int:
    import datetime as dt

    from edge_agent.quarantine import Quarantine

    cfg = _load(args)
    path = cfg.quarantine_path
    if not path.exists():
        print(
            json.dumps({"total": 0, "records": []})
            if args.json
            else f"no quarantine file at {path} (nothing quarantined yet)"
        )
        return 0
    q = Quarantine(path, readonly=True)
    try:
        records = q.records(args.limit)
        total = q.total
    finally:
        q.close()
    if args.json:
        print(json.dumps({"total": total, "records": [r.to_json() for r in records]}, ensure_ascii=False))
        return 0
    print(f"{total} quarantined in total; newest {len(records)} in {path}:")
    for r in records:
        when = dt.datetime.fromtimestamp(r.ts_ns / 1e9).isoformat(timespec="seconds")
        body = r.payload.decode("utf-8", errors="replace")
        print(f"- {when} [{r.source}] {r.topic}\n    reason:  {r.reason}\n    payload: {body[:200]}")
    return 0
