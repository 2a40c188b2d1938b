"""The `twin inspect` view of a loaded campus: a JSON-ready dict and a text tree."""

from __future__ import annotations

from typing import Any

from twin.model import Building, Campus, Space


def _space(s: Space) -> dict[str, Any]:
    return {
        "global_id": s.global_id,
        "name": s.name,
        "long_name": s.long_name,
        "room_type": s.room_type,
        "area_m2": None if s.area_m2 is None else round(s.area_m2, 3),
        "evidence": [{"rule": e.rule, "attribute": e.attribute, "value": e.value} for e in s.evidence],
    }


def _building(b: Building) -> dict[str, Any]:
    storeys = [
        {
            "global_id": st.global_id,
            "name": st.name,
            "elevation": st.elevation_m,
            "spaces": [_space(s) for s in st.spaces],
        }
        for st in b.storeys
    ]
    if b.spaces_without_storey:  # keeps the shape: a storey-less group with null id/name/elevation
        storeys.append(
            {
                "global_id": None,
                "name": None,
                "elevation": None,
                "spaces": [_space(s) for s in b.spaces_without_storey],
            }
        )
    return {"global_id": b.global_id, "name": b.name, "storeys": storeys}


def inspect_dict(campus: Campus) -> dict[str, Any]:
    """`{schema, buildings:[{global_id,name,storeys:[{global_id,name,elevation,spaces:[…]}]}], problems:[…]}`"""
    return {
        "schema": campus.schema,
        "buildings": [_building(b) for b in campus.buildings],
        "problems": [
            {"file": p.file, "entity": p.entity, "message": p.message, "kind": p.kind, "schema": p.schema}
            for p in campus.problems
        ],
    }


def inspect_text(campus: Campus, labels: dict[str, str] | None = None) -> str:
    lines = [f"schema {campus.schema}  files {len(campus.source_files)}"]
    for b in campus.buildings:
        lines.append(f"building {b.name}  [{b.global_id}]  {b.source_file}")
        groups = [(st.name, st.elevation_m, st.spaces) for st in b.storeys]
        if b.spaces_without_storey:
            groups.append(("(no storey)", None, b.spaces_without_storey))
        for name, elev, spaces in groups:
            el = "" if elev is None else f"  elevation {elev:g} m"
            lines.append(f"  storey {name}{el}  ({len(spaces)} spaces)")
            for s in spaces:
                area = "?" if s.area_m2 is None else f"{s.area_m2:.1f}"
                label = (labels or {}).get(s.room_type or "", "")
                rule = s.evidence[0].rule if s.evidence else "-"
                lines.append(
                    f"    {s.name or '(no name)':<10} {s.long_name or '':<16} {s.room_type} {label}  "
                    f"{area} m²  sensors {len(s.sensors)}  [{rule}]"
                )
    unknown = sum(1 for s in campus.spaces() if s.area_m2 is None)
    if unknown:
        lines.append(
            f"{unknown} spaces state no area (no Qto, no authoring-tool area): "
            "--geometry computes it from their shape"
        )
    if campus.problems:
        lines.append(f"problems ({len(campus.problems)}):")
        lines.extend(f"  {p.file}: {p.entity or '-'}: {p.message}" for p in campus.problems)
    return "\n".join(lines)
