"""`campus-twin` entry point: argparse with one subcommand group per layer.

Each layer owns its commands in `<layer>/cli.py` (a `register(subparsers)` function that
imports nothing heavy); handlers import their dependencies when they run.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
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
    "campus_twin.broker_acl",
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
        rc = int(func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in Python's exit-time flush
        return rc
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    except MetricsListenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _stdout_closed()
    except Exception as exc:  # the last guard: a user sees one line, never a traceback
        if args.verbose:
            raise
        print(
            f"error: {type(exc).__name__}: {exc}\n"
            "this is a bug in campus-twin: run the same command with -v to see where, and report it",
            file=sys.stderr,
        )
        return 1


def _stdout_closed() -> int:
    """The reader of our output went away (`campus-twin twin inspect --json | head`): stop quietly
    like any Unix tool, and keep Python's exit-time flush from printing its own BrokenPipe error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141  # 128 + SIGPIPE, what a shell reports for a tool stopped by a closed pipe


if __name__ == "__main__":
    sys.exit(main())
