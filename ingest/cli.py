"""`campus-twin ingest …` commands. Registering imports nothing heavy; handlers import lazily."""

from __future__ import annotations

from typing import Any

from contract.cli import group


def register(sub: Any) -> None:
    cmds = group(
        sub,
        "ingest",
        "Ingest: consume agents' upstream MQTT, validate, enrich with rooms, write to SQLite or InfluxDB.",
    )
    del cmds  # subcommands are added by the layer as it lands
