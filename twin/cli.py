"""`campus-twin twin …` commands. Registering imports nothing heavy; handlers import lazily."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from contract.cli import group

log = logging.getLogger("twin")


def _progress(path: str, stage: str, done: int, total: int) -> None:
    """Log progress on large files only (every file logs once when done)."""
    if stage in {"spaces", "geometry"} and total >= 500 and (done % 500 == 0 or done == total):
        log.info("%s: %s %d/%d", path, stage, done, total)


def _generate(args: argparse.Namespace) -> int:
    from contract.campus import CampusSpec
    from contract.yamlio import load_model
    from twin.generator import generate_campus

    spec = load_model(CampusSpec, args.spec)
    schema = args.schema  # argparse choices guarantee a Schema value
    for g in generate_campus(spec, args.out, per_building=not args.single_file, schema=schema):
        print(f"{g.path}: buildings {','.join(g.buildings)}, {g.spaces} spaces, {g.sensors} sensors")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from twin.ifc_loader import load_campus
    from twin.inspect_view import inspect_dict, inspect_text
    from twin.rooms import load_rules, type_rooms

    campus = load_campus(args.campus, args.campus, args.files, _progress)
    rules = load_rules(args.rules)
    type_rooms(campus, rules)
    if args.json:
        print(json.dumps(inspect_dict(campus), ensure_ascii=False, indent=None if args.compact else 2))
    else:
        print(inspect_text(campus, {k: v.zh for k, v in rules.types.items()}))
    opened = [p for p in campus.problems if p.message.startswith("cannot open IFC")]
    return 1 if opened and len(opened) == len(campus.source_files) else 0


def _bind(args: argparse.Namespace) -> int:
    from twin.binding import bind_campus, binding_table, load_device_list
    from twin.config import load_config, prepare_campus, resolve_path

    cfg, base = load_config(args.config)
    campuses = []
    errors = 0
    devices = load_device_list(args.devices) if args.devices else None
    for c in cfg.campuses:
        campus = prepare_campus(
            c.model_copy(update={"bindings": None, "devices": None}), base, None, _progress
        )
        bfile = resolve_path(base, c.bindings)
        dev_path = resolve_path(base, c.devices)
        dev = devices if devices is not None or dev_path is None else load_device_list(dev_path)
        campus.bindings, report = bind_campus(campus, bfile, dev)
        campuses.append(campus)
        errors += len(report.errors)
        print(
            f"campus {campus.id}: {len(campus.bindings)} bindings, {len(report.bound_devices)} devices bound"
        )
        for issue in report.issues:
            print(f"  {issue}", file=sys.stderr if issue.severity == "error" else sys.stdout)
    binding_table(campuses).save(args.out)
    print(f"wrote {args.out}")
    return 1 if errors else 0


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from contract.bindings import BindingTable
    from twin.config import load_twin
    from twin.writeback import export_ifc

    campuses = load_twin(args.config, _progress)
    table = BindingTable.load(args.bindings) if args.bindings else None
    store = None
    if args.sqlite:
        from store.sqlite import SQLiteStore

        store = SQLiteStore(args.sqlite)
    try:
        for c in campuses:
            bindings = [b for b in table.bindings if b.tags.campus == c.id] if table else c.bindings
            for src in c.source_files:
                out = Path(args.out) / c.id / Path(src).name
                r = export_ifc(src, out, bindings, store)
                print(f"{out}: {r.sensors_written} sensors for {r.bindings_written} bindings")
    finally:
        if store is not None:
            store.close()
    return 0


def _plans(args: argparse.Namespace) -> int:
    from pathlib import Path

    from twin.floorplan import floor_plans, storey_svg

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for f in args.files:
        for i, plan in enumerate(floor_plans(f, args.cache)):
            path = out / f"{Path(f).stem}-{i:02d}-{plan.name or plan.global_id}.svg"
            path.write_text(storey_svg(plan), encoding="utf-8")
            print(f"{path}: {len(plan.spaces)} spaces, {len(plan.missing)} without geometry")
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

    p = cmds.add_parser("inspect", help="Print the site/building/storey/space hierarchy of IFC files.")
    p.add_argument("files", nargs="+", metavar="FILE.ifc")
    p.add_argument("--json", action="store_true", help="JSON: {schema, buildings, problems}")
    p.add_argument("--compact", action="store_true", help="with --json: one line")
    p.add_argument("--rules", help="room type rules YAML (default: twin/rules/room_types.yaml)")
    p.add_argument("--campus", default="inspect", help="campus id used in the output")
    p.set_defaults(func=_inspect)

    p = cmds.add_parser(
        "bind", help="Bind sensors to spaces (IfcSensor and/or binding file); write bindings.json."
    )
    p.add_argument("config", help="twin config YAML")
    p.add_argument("--out", required=True, help="binding table JSON for ingest")
    p.add_argument("--devices", help="device list to validate against (campus spec or list of ids)")
    p.set_defaults(func=_bind)

    p = cmds.add_parser("export", help="Write IFC copies with the bindings as IfcSensor elements.")
    p.add_argument("config", help="twin config YAML")
    p.add_argument("--out", required=True, help="output directory (one subdirectory per campus)")
    p.add_argument("--bindings", help="binding table JSON (default: bind from the config now)")
    p.add_argument("--sqlite", help="SQLite store for LatestValue/LatestTime")
    p.set_defaults(func=_export)

    p = cmds.add_parser("plans", help="Write SVG floor plans per storey (cached by file hash).")
    p.add_argument("files", nargs="+", metavar="FILE.ifc")
    p.add_argument("--out", required=True)
    p.add_argument("--cache", help="cache directory")
    p.set_defaults(func=_plans)
