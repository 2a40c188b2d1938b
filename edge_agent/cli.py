"""`campus-twin agent …` commands. Registering imports nothing heavy; handlers import lazily."""

from __future__ import annotations

from typing import Any

from contract.cli import group


def register(sub: Any) -> None:
    cmds = group(
        sub,
        "agent",
        "Edge agent on a campus gateway: poll Modbus, subscribe MQTT sensors, buffer on disk, forward upstream.",
    )
    del cmds  # subcommands are added by the layer as it lands
