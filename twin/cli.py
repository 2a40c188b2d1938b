"""`campus-twin twin …` commands. Registering imports nothing heavy; handlers import lazily."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from typing import Any

from contract.cli import group

log = logging.getLogger("twin")


PROGRESS_MIN = 500  # spaces: below this a file loads in well under a second


def _progress(path: str, stage: str, done: int, total: int) -> None:
    """A progress bar on stderr for large files only (a log line when stderr is not a terminal)."""
    if stage not in {"spaces", "geometry"} or total < PROGRESS_MIN:
        return
    if sys.stderr.isatty():
        width = 30
        fill = width * done // total
        end = "\n" if done == total else ""
        print(
            f"\r{stage:8s} [{'#' * fill}{'.' * (width - fill)}] {done}/{total} {path}",
            end=end,
            file=sys.stderr,
        )
    elif done % PROGRESS_MIN == 0 or done == total:
        log.info("%s: %s %d/%d", path, stage, done, total)


def _file_problems(problems: list[Any]) -> list[Any]:
    """File-level problems (unreadable, unsupported, truncated): those carry a kind."""
    return [p for p in problems if getattr(p, "kind", None) is not None]


def _say_file_problems(problems: list[Any]) -> None:
    for p in _file_problems(problems):
        print(f"{p.file}: {p.kind} ({p.schema or 'schema unknown'}): {p.message}", file=sys.stderr)


def _nothing_loaded(campus: Any) -> bool:
    """Every file failed at file level and no space came out: the command produced nothing."""
    bad = {p.file for p in _file_problems(campus.problems)}
    return bool(bad) and bad >= set(campus.source_files) and not campus.spaces()


def storey_file_name(stem: str, index: int, name: str | None) -> str:
    """`<stem>-<index>-<slug>.svg`: the index keeps names unique, the slug keeps "/" and other
    path characters ("T/FDN", "1F/2F") out of the path; the real name is inside the SVG."""
    slug = re.sub(r"[^\w.-]+", "-", name or "", flags=re.UNICODE).strip("-.")[:40]
    return f"{stem}-{index:02d}-{slug or 'storey'}.svg"


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

    campus = load_campus(args.campus, args.campus, args.files, _progress, geometry=args.geometry)
    rules = load_rules(args.rules)
    type_rooms(campus, rules)
    if args.json:
        print(json.dumps(inspect_dict(campus), ensure_ascii=False, indent=None if args.compact else 2))
    else:
        print(inspect_text(campus, {k: v.zh for k, v in rules.types.items()}))
    return 1 if _nothing_loaded(campus) else 0


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
        _say_file_problems(campus.problems)
        unusable = sorted({p.file for p in _file_problems(campus.problems)})
        if unusable and report.errors:
            print(
                f"  note: {len(unusable)} IFC file(s) of campus {campus.id} could not be read fully; "
                "rooms in them are unknown",
                file=sys.stderr,
            )
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
    from contract.bindings import BindingTable
    from twin.config import load_twin
    from twin.ifc_open import CRASHED, IfcFileError
    from twin.writeback import export_ifc, export_path

    campuses = load_twin(args.config, _progress)
    table = BindingTable.load(args.bindings) if args.bindings else None
    if table is None:  # bound now: erroneous entries would be dropped silently
        errors = [p for c in campuses for p in c.problems if p.message.startswith("binding error")]
        for p in errors:
            print(f"{p.file}: {p.message}", file=sys.stderr)
        if errors and not args.force:
            print(
                f"refusing to export: {len(errors)} binding error(s); fix them or pass --force",
                file=sys.stderr,
            )
            return 1
    store = None
    if args.sqlite:
        from store.sqlite import SQLiteStore

        store = SQLiteStore(args.sqlite)
    failed = 0
    try:
        for c in campuses:
            bindings = [b for b in table.bindings if b.tags.campus == c.id] if table else c.bindings
            crashed = {p.file for p in c.problems if p.kind == CRASHED}
            for src in c.source_files:
                out = export_path(args.out, c.id, src)
                if src in crashed:  # opening it again here would crash this command
                    failed += 1
                    print(f"not exported: {src}: it crashed the IFC library when read", file=sys.stderr)
                    continue
                try:
                    r = export_ifc(src, out, bindings, store)
                except IfcFileError as exc:
                    failed += 1
                    print(f"not exported: {exc.problem}", file=sys.stderr)
                    continue
                print(f"{out}: {r.sensors_written} sensors for {r.bindings_written} bindings")
                for w in r.warnings:
                    print(f"  {w}", file=sys.stderr)
    finally:
        if store is not None:
            store.close()
    return 1 if failed else 0


def _plans(args: argparse.Namespace) -> int:
    from pathlib import Path

    from twin.floorplan import floor_plans, storey_svg
    from twin.ifc_open import IfcFileError

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for f in args.files:

        def progress(done: int, total: int, path: str = f) -> None:
            _progress(path, "geometry", done, total)

        try:
            plans = floor_plans(f, args.cache, progress)
        except IfcFileError as exc:
            failed += 1
            print(f"no plans: {exc.problem}", file=sys.stderr)
            continue
        for i, plan in enumerate(plans):
            path = out / storey_file_name(Path(f).stem, i, plan.name or plan.global_id)
            path.write_text(storey_svg(plan), encoding="utf-8")
            how: dict[str, int] = {}
            for sp in plan.spaces:
                how[sp.relation] = how.get(sp.relation, 0) + 1
            relations = ", ".join(f"{n} {r}" for r, n in sorted(how.items()))
            print(
                f"{path}: storey {plan.name!r}, {len(plan.spaces)} spaces ({relations or 'none'}), "
                f"{len(plan.missing)} without geometry"
            )
            for w in plan.warnings:
                print(f"  warning: {w}", file=sys.stderr)
    return 1 if failed else 0


def _types(args: argparse.Namespace) -> int:
    from twin.ifc_loader import load_campus
    from twin.rooms import closest_type, load_rules, type_rooms, unmatched_names

    campus = load_campus("types", "types", args.files, _progress)
    _say_file_problems(campus.problems)
    rules = load_rules(args.rules)
    type_rooms(campus, rules)
    if args.unmatched:
        rows = unmatched_names(campus)
        for name, count in rows:
            near = closest_type(name, rules)
            hint = f"  → closest: {near[0]} {rules.label(near[0])} (like {near[1]!r})" if near else ""
            print(f"{count:5d}  {name}{hint}")
        print(f"{sum(c for _, c in rows)} rooms untyped, {len(rows)} distinct names", file=sys.stderr)
    else:
        counts: dict[str, int] = {}
        for s in campus.spaces():
            counts[s.room_type or "other"] = counts.get(s.room_type or "other", 0) + 1
        for key, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            label = rules.types[key].zh if key in rules.types else ""
            print(f"{n:5d}  {key} {label}")
    return 1 if _nothing_loaded(campus) else 0


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
    p.add_argument(
        "--geometry",
        action="store_true",
        help="tessellate spaces the model gives no area for (slow on large files)",
    )
    p.set_defaults(func=_inspect)

    p = cmds.add_parser("types", help="Room types of IFC files; --unmatched lists names no rule matched.")
    p.add_argument("files", nargs="+", metavar="FILE.ifc")
    p.add_argument("--unmatched", action="store_true", help="names no rule matched, with their counts")
    p.add_argument("--rules", help="room type rules YAML (default: twin/rules/room_types.yaml)")
    p.set_defaults(func=_types)

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
    p.add_argument("--force", action="store_true", help="export even if binding entries have errors")
    p.set_defaults(func=_export)

    p = cmds.add_parser("plans", help="Write SVG floor plans per storey (cached by file hash).")
    p.add_argument("files", nargs="+", metavar="FILE.ifc")
    p.add_argument("--out", required=True)
    p.add_argument("--cache", help="cache directory")
    p.set_defaults(func=_plans)
