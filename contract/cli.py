"""Helpers shared by every layer's `cli.py`: argparse only, so registering commands is cheap."""

from __future__ import annotations

import argparse
from typing import Any


def group(sub: Any, name: str, help_text: str) -> Any:
    """Add a command group (`campus-twin NAME …`) and return its subparsers."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    p.set_defaults(func=None, _parser=p)
    return p.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")
