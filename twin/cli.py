"""`campus-twin twin …` commands. Registering imports nothing heavy; handlers import lazily."""

from __future__ import annotations

import argparse
from typing import Any

from contract.cli import group


def _generate(args: argparse.Namespace) -> int:
    from contract.campus import CampusSpec
    from contract.yamlio import load_model
    from twin.generator import generate_campus

    spec = load_model(CampusSpec, args.spec)
    schema = args.schema  # argparse choices guarantee a Schema value
    for g in generate_campus(spec, args.out, per_building=not args.single_file, schema=schema):
        print(f"{g.path}: buildings {','.join(g.buildings)}, {g.spaces} spaces, {g.sensors} sensors")
    return 0


def register(sub: Any) -> None:
    cmds = group(
        sub,
        "twin",
        "Digital twin: load IFC campus models, type rooms, bind sensors to spaces, write back IFC.",
    )
    p = cmds.add_parser("generate", help="Write a sample campus IFC from a campus spec (YAML).")
    p.add_argument("spec", help="campus spec, e.g. examples/campus/demo-campus.yaml")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--single-file", action="store_true", help="one IFC for the campus (default: per building)"
    )
    p.add_argument("--schema", default="IFC4", choices=["IFC4", "IFC4X3", "IFC2X3"])
    p.set_defaults(func=_generate)
