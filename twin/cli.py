"""`campus-twin twin …` commands. Registering imports nothing heavy; handlers import lazily."""

from __future__ import annotations

from typing import Any

from contract.cli import group


def register(sub: Any) -> None:
    cmds = group(
        sub,
        "twin",
        "Digital twin: load IFC campus models, type rooms, bind sensors to spaces, write back IFC.",
    )
    del cmds  # subcommands are added by the layer as it lands
