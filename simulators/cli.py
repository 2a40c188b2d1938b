"""`campus-twin sim …` commands. Registering imports nothing heavy; handlers import lazily."""

from __future__ import annotations

from typing import Any

from contract.cli import group


def register(sub: Any) -> None:
    cmds = group(
        sub, "sim", "Simulated classrooms, labs and devices (Modbus TCP and MQTT) with fault injection."
    )
    del cmds  # subcommands are added by the layer as it lands
