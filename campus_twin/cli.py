"""`campus-twin` entry point: argparse with one subcommand group per layer.

Each layer owns its commands in `<layer>/cli.py` (a `register(subparsers)` function that
imports nothing heavy); handlers import their dependencies when they run.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from campus_twin import __version__

# (module with register(), why it is listed) — order is the order of `--help`.
LAYERS = (
    "edge_agent.cli",
    "ingest.cli",
    "twin.cli",
    "twin.report_cli",
    "twin.standards.cli",
    "api.cli",
    "simulators.cli",
    "campus_twin.quarantine_cli",
    "campus_twin.demo_cli",
    "bench.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="campus-twin",
        description="Edge IoT gateway and BIM digital twin for school campuses (数字孪生校园).",
    )
    parser.add_argument("--version", action="version", version=f"campus-twin {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in LAYERS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2) if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    func = getattr(args, "func", None)
    if func is None:
        # a group without a chosen subcommand: show that group's help
        getattr(args, "_parser", parser).print_help()
        return 2
    from contract.yamlio import ConfigError
    from ops.metrics import MetricsListenError

    try:
        return int(func(args) or 0)
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    except MetricsListenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `… --json | head`: the reader left; no traceback, nothing more to say
        _silence_stdout()
        return 141  # 128 + SIGPIPE, what a shell tool killed by the pipe reports


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not raise again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
