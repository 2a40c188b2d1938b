"""Load the twin named by the API config: prepared campuses (`twin.config.load_twin`) and the
binding table they carry, plus each campus's binding file (where rebinding writes)."""

from __future__ import annotations

from pathlib import Path

from api.state import LoadedTwin
from contract.bindings import BindingTable


def load_from_config(twin_config: Path) -> LoadedTwin:
    from api.floorplan_adapter import fill_footprints
    from twin.config import load_config, load_twin

    campuses = load_twin(twin_config)
    fill_footprints(campuses)
    cfg, base = load_config(twin_config)
    files: dict[str, Path] = {}
    for c in cfg.campuses:
        if c.bindings:
            p = Path(c.bindings)
            files[c.id] = p if p.is_absolute() else base / p
    table = BindingTable(bindings=[b for c in campuses for b in c.bindings])
    return LoadedTwin(campuses=campuses, bindings=table, binding_files=files)
