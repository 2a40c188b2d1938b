"""`campus-twin demo`: the whole stack on one machine (see campus_twin/demo.py)."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo", help="Run the demo: sample campus, simulators, agents, ingest, API and web UI."
    )
    p.set_defaults(func=None, _parser=p)
