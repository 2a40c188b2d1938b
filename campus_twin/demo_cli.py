"""`campus-twin demo`: the whole stack on one machine (see campus_twin/demo.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _run(args: argparse.Namespace) -> int:
    from campus_twin.demo import DEFAULT_SPEC, DemoOptions, run_demo

    return run_demo(
        DemoOptions(
            spec=Path(args.campus) if args.campus else DEFAULT_SPEC,
            workdir=Path(args.workdir),
            host=args.host,
            port=args.port,
            mqtt_port=args.mqtt_port,
            speed=args.speed,
            start=args.start,
            duration_s=args.duration,
        )
    )


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="Run the demo: sample campus IFC, simulators, agents, ingest (SQLite), API and web UI.",
        description="Generate the sample campus, start an embedded MQTT broker, the simulators, one "
        "edge agent per building, ingest into SQLite and the API + web UI on localhost. Ctrl-C stops all.",
    )
    p.add_argument(
        "--campus", metavar="SPEC", help="campus spec YAML (default: examples/campus/demo-campus.yaml)"
    )
    p.add_argument("--workdir", default="var/demo", help="where configs, IFC, store and logs go")
    p.add_argument("--host", default="127.0.0.1", help="API listen address")
    p.add_argument("--port", type=int, default=8000, help="API port")
    p.add_argument("--mqtt-port", type=int, default=0, help="embedded broker port (default: a free port)")
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second, e.g. 60")
    p.add_argument(
        "--start", metavar="ISO", help="campus-local simulated start (default with --speed: 07:30)"
    )
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (tests)")
    p.set_defaults(func=_run, _parser=p)
