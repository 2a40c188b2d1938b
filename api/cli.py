"""`campus-twin api …` commands. Registering imports nothing heavy; handlers import lazily."""

from __future__ import annotations

from typing import Any

from contract.cli import group


def register(sub: Any) -> None:
    cmds = group(sub, "api", "HTTP API and web UI for facilities staff.")
    del cmds  # subcommands are added by the layer as it lands
