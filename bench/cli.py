"""`campus-twin bench NAME`: run one benchmark module `bench/<name>.py` (its `main(argv)`)."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

BENCHES = {
    "agent": "bench.agent_resources",
    "agent-throughput": "bench.agent_throughput",
    "contract": "bench.contract_codec",
    "mqtt": "bench.mqtt_decode",
    "ingest": "bench.ingest",
    "api": "bench.api_latency",
    "sim": "bench.sim_scale",
    "modbus": "bench.modbus_poll",
    "ifc": "bench.ifc_load",
    "report": "bench.report",
    "standards": "bench.standards",
    "district": "bench.district",
    "discover": "bench.discover",
}


def _run(args: argparse.Namespace) -> int:
    module = importlib.import_module(BENCHES[args.name])
    return int(module.main(list(args.bench_args)))


def register(sub: Any) -> None:
    p = sub.add_parser("bench", help="Run a benchmark and print its figures (see docs/performance.md).")
    p.add_argument("name", choices=sorted(BENCHES), help="which benchmark")
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments for the benchmark (e.g. --json)")
    p.set_defaults(func=_run, _parser=p)
