"""Twin IFC load time vs bare `ifcopenshell.open` of the same file (the floor any loader pays).

The ratio is what the twin adds: hierarchy walk, psets, quantities and the geometry fallback
for spaces without a quantity set. Without FILE a sample campus is generated first.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def _best(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    import ifcopenshell

    from twin.ifc_loader import load_ifc
    from twin.rooms import load_rules, type_rooms

    ap = argparse.ArgumentParser(prog="campus-twin bench ifc")
    ap.add_argument("file", nargs="?", help="IFC file (default: the generated demo campus, single file)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.file) if args.file else _demo_file(Path(tmp))
        bare = _best(lambda: ifcopenshell.open(str(path)), args.repeat)
        lf = load_ifc(path, "bench")
        twin = _best(lambda: load_ifc(path, "bench"), args.repeat)
        spaces = [s for b in lf.buildings for s in b.all_spaces()]
        from twin.model import Campus

        campus = Campus("bench", "bench", buildings=lf.buildings)
        rules = load_rules()
        typing = _best(lambda: type_rooms(campus, rules), args.repeat)
        result = {
            "file": str(path) if args.file else "generated demo campus",
            "schema": lf.schema,
            "bytes": path.stat().st_size,
            "spaces": len(spaces),
            "spaces_from_geometry": sum(1 for s in spaces if s.quantity_source == "geometry"),
            "bare_open_s": round(bare, 4),
            "twin_load_s": round(twin, 4),
            "room_typing_s": round(typing, 5),
            "ratio_twin_vs_bare": round(twin / bare, 2) if bare else None,
            "per_space_ms": round(1000 * twin / max(1, len(spaces)), 3),
        }
    for k, v in result.items():
        print(f"{k:22s} {v}")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    return 0


def _demo_file(tmp: Path) -> Path:
    from contract.campus import CampusSpec
    from contract.yamlio import load_model
    from twin.generator import generate_campus

    spec_path = Path(__file__).resolve().parent.parent / "examples" / "campus" / "demo-campus.yaml"
    (g,) = generate_campus(load_model(CampusSpec, spec_path), tmp, per_building=False)
    return g.path


if __name__ == "__main__":
    raise SystemExit(main())
