"""`campus-twin agent …` commands. Registering imports nothing heavy; handlers import lazily."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from contract.cli import group

EXIT_CODES = (
    "exit codes: 0 fine (warnings allowed), 1 reachable but some points bad, "
    "2 config or profile error, 3 a broker or device unreachable"
)


def register(sub: Any) -> None:
    cmds = group(
        sub,
        "agent",
        "Edge agent on a campus gateway: poll Modbus, subscribe MQTT sensors, buffer on disk, forward upstream.",
    )

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = cmds.add_parser(
            name, help=help_text, description=help_text, epilog=EXIT_CODES
        )
        p.add_argument("config", help="agent YAML config")
        p.add_argument(
            "--profiles",
            action="append",
            default=[],
            metavar="DIR",
            help="extra device-profile folder (repeatable); searched after the built-in library and "
            "the config's profile_dirs",
        )
        return p

    p = add("run", "Run the agent until SIGTERM/SIGINT (then flush and exit).")
    p.add_argument("--flush-timeout", type=float, default=10.0, help="seconds to flush upstream on shutdown")
    p.set_defaults(func=_guard(_run))

    p = add("check", "Validate the config and profiles and show each Modbus device's request plan.")
    p.add_argument(
        "--connect",
        action="store_true",
        help="also connect to both brokers and poll every Modbus device once (table; exit 3 if unreachable)",
    )
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per broker connect (with --connect)")
    p.set_defaults(func=_guard(_check))

    p = add("plan", "Print each Modbus device's read requests.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_guard(_plan))

    p = add("probe", "Read one Modbus device once and print decoded values (exit 1 if a point is bad).")
    p.add_argument("--device", required=True, help="device id from the config")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_guard(_probe))

    buffer = group(cmds, "buffer", "The agent's disk buffer.")
    p = buffer.add_parser(
        "recover",
        help="Salvage what a corrupt buffer file (moved aside by `agent run`) still holds into the live buffer.",
        description="Read FILE row by row, skipping what no longer reads, and queue the readings in "
        "the config's buffer for sending (the running agent picks them up).",
    )
    p.add_argument("config", help="agent YAML config (names the live buffer)")
    p.add_argument("file", help="the corrupt buffer file, e.g. buffer.sqlite.corrupt-20260301T120000Z")
    p.set_defaults(func=_guard(_recover))

    from edge_agent.discover.command import add_arguments as discover_arguments
    from edge_agent.discover.command import run as discover_run

    help_text = "Scan a Modbus line for units, recognise their models, propose the devices config (never writes a register)."
    p = cmds.add_parser("discover", help=help_text, description=help_text, epilog=EXIT_CODES)
    discover_arguments(p)
    p.set_defaults(func=_guard(discover_run))


def _guard(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """No traceback for a user's mistake: unreadable files, bad secrets, bad values → one line, exit 2.
    (ConfigError goes to the top-level CLI, which prints every problem with file:line:col.)"""

    def run(args: argparse.Namespace) -> int:
        from contract.secrets import SecretError
        from contract.yamlio import ConfigError

        try:
            return handler(args)
        except ConfigError:
            raise
        except (SecretError, OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return run


def _run(args: argparse.Namespace) -> int:
    from edge_agent.service import run_forever

    return run_forever(args.config, args.flush_timeout, args.profiles)


def _load(args: argparse.Namespace) -> Any:
    from edge_agent.config import load_agent_config

    return load_agent_config(args.config)


def _profiles(cfg: Any, args: argparse.Namespace) -> Any:
    from edge_agent.profiles import load_profiles, search_dirs

    return load_profiles(search_dirs(cfg.profile_dirs, args.profiles))


def _needed_profiles(cfg: Any, args: argparse.Namespace, devices: Any = None) -> Any:
    """The profile set, or a printed error naming search path and known names (returns None)."""
    profiles = _profiles(cfg, args)
    errors = profiles.missing((d.id, d.profile) for d in (cfg.modbus if devices is None else devices))
    for e in errors:
        print(f"ERROR: {e}", file=sys.stderr)
    return None if errors else profiles


def _quiet_transitions() -> None:
    """check/probe print each device's outcome themselves; the run-time DOWN/UP log would repeat it."""
    import logging

    logging.getLogger("edge_agent.sources.modbus.poller").setLevel(logging.ERROR)


def _check(args: argparse.Namespace) -> int:
    import asyncio

    from edge_agent.commands_check import EXIT_CONFIG, EXIT_OK, check_report, connect_report

    cfg = _load(args)
    profiles = _profiles(cfg, args)
    text, ok = check_report(cfg, profiles)
    print(text)
    if not ok:
        return EXIT_CONFIG
    if not args.connect:
        return EXIT_OK
    _quiet_transitions()
    table, code = asyncio.run(connect_report(cfg, profiles, args.timeout))
    print("\nconnect:")
    print(table)
    return code


def _recover(args: argparse.Namespace) -> int:
    from edge_agent.buffer_command import recover

    return recover(args.config, args.file)


def _plan(args: argparse.Namespace) -> int:
    from edge_agent.sources.modbus.commands import format_plan, plan_report

    cfg = _load(args)
    profiles = _needed_profiles(cfg, args)
    if profiles is None:
        return 2
    report = plan_report(cfg.modbus, profiles.profiles)
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else format_plan(report))
    return 0


def _probe(args: argparse.Namespace) -> int:
    import asyncio

    from edge_agent.commands_check import probe_exit_code
    from edge_agent.runtime import agent_clock
    from edge_agent.sources.modbus.commands import probe_device

    cfg = _load(args)
    devices = {d.id: d for d in cfg.modbus}
    if args.device not in devices:
        print(
            f"error: no modbus device {args.device!r} in {args.config}; known: {', '.join(sorted(devices)) or '-'}",
            file=sys.stderr,
        )
        return 2
    dev = devices[args.device]
    profiles = _needed_profiles(cfg, args, [dev])
    if profiles is None:
        return 2
    _quiet_transitions()
    result, health = asyncio.run(probe_device(dev, profiles.profiles[dev.profile], agent_clock(cfg)))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        for point, v in result.items():
            reason = v.get("reason")
            print(
                f"{point:24s} {v.get('value')!s:>14s} {v.get('unit', ''):8s} {v.get('quality', '')}"
                + (f"  ({reason})" if reason else "")
            )
    code = probe_exit_code(result, health.up)
    if code and health.last_hint:
        print(f"hint: {health.last_hint}", file=sys.stderr)
    return code
    return 0
