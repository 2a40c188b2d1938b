"""Twin IFC load time vs bare `ifcopenshell.open` of the same file (the floor any loader pays).

The ratios are against a full open and against a lazy open (index only, attributes parsed on
first read — what the loader itself uses, so the tightest baseline). What the twin adds: the guarded open (header/tail checks), hierarchy walk, psets and
quantities. Areas come from the model first (Qto, then the authoring tool's own property such as
Revit's PSet_Revit_Dimensions.Area); tessellation is only paid when asked (`geometry=True`, the
old behaviour, shown for comparison) or by floor plans (cached by file hash).

Without FILE arguments: ../shared/ifc/AC20-FZK-Haus.ifc and Duplex_A_20110907.ifc when present,
plus the generated demo campus with every building three times as tall (single file, ≥ 50 spaces).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from bench.timing import best, best_interleaved

SHARED = Path(__file__).resolve().parent.parent / ".." / "shared" / "ifc"
DEFAULT_FILES = ("AC20-FZK-Haus.ifc", "Duplex_A_20110907.ifc")


def bench_file(path: Path, repeat: int, label: str | None = None) -> dict[str, Any]:
    import ifcopenshell

    from twin.floorplan import compute_plans
    from twin.ifc_loader import load_ifc
    from twin.ifc_open import bare_open
    from twin.model import Campus
    from twin.rooms import load_rules, type_rooms

    lf = load_ifc(path, "bench")
    bare, bare_lazy, twin, with_geo = best_interleaved(
        [
            lambda: ifcopenshell.open(str(path)),
            lambda: bare_open(path, lazy=True),
            lambda: load_ifc(path, "bench"),
            lambda: load_ifc(path, "bench", geometry=True),
        ],
        repeat,
    )
    plans, _ = best(lambda: compute_plans(path), 1)
    spaces = [s for b in lf.buildings for s in b.all_spaces()]
    campus = Campus("bench", "bench", buildings=lf.buildings)
    rules = load_rules()
    typing, _ = best(lambda: type_rooms(campus, rules), repeat)
    sources: dict[str, int] = {}
    for s in spaces:
        sources[s.quantity_source or "unknown"] = sources.get(s.quantity_source or "unknown", 0) + 1
    return {
        "file": label or path.name,
        "schema": lf.schema,
        "bytes": path.stat().st_size,
        "spaces": len(spaces),
        "area_sources": sources,
        "bare_open_s": round(bare, 4),
        "twin_load_s": round(twin, 4),
        "ratio_twin_vs_bare": round(twin / bare, 2) if bare else None,
        "bare_lazy_open_s": round(bare_lazy, 4),  # the loader opens lazily: the tightest floor
        "ratio_twin_vs_bare_lazy": round(twin / bare_lazy, 2) if bare_lazy else None,
        "twin_load_with_geometry_s": round(with_geo, 4),
        "ratio_with_geometry_vs_bare": round(with_geo / bare, 2) if bare else None,
        "plans_s": round(plans, 4),
        "room_typing_s": round(typing, 5),
        "per_space_ms": round(1000 * twin / max(1, len(spaces)), 3),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="campus-twin bench ifc")
    ap.add_argument("files", nargs="*", help="IFC files (default: FZK-Haus, Duplex, generated demo campus)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.files:
            targets: list[tuple[Path, str | None]] = [(Path(f), None) for f in args.files]
        else:
            targets = [(SHARED / n, None) for n in DEFAULT_FILES if (SHARED / n).is_file()]
            targets.append((_demo_file(Path(tmp)), "generated demo campus ×3 floors"))
        for path, label in targets:
            results.append(bench_file(path, args.repeat, label))
    for r in results:
        print(f"== {r['file']}")
        for k, v in r.items():
            if k != "file":
                print(f"  {k:30s} {v}")
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
    return 0


def _demo_file(tmp: Path) -> Path:
    from contract.campus import CampusSpec
    from contract.yamlio import load_model
    from twin.generator import generate_campus

    spec_path = Path(__file__).resolve().parent.parent / "examples" / "campus" / "demo-campus.yaml"
    spec = load_model(CampusSpec, spec_path)
    taller = spec.model_copy(
        update={"buildings": [b.model_copy(update={"floors": b.floors * 3}) for b in spec.buildings]}
    )
    (g,) = generate_campus(taller, tmp, per_building=False)
    return g.path


if __name__ == "__main__":
    raise SystemExit(main())
