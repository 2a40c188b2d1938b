"""Load the twin named by the API config: prepared campuses (`twin.config.load_twin`) and the
binding table they carry, plus each campus's binding file (where rebinding writes)."""

from __future__ import annotations

from pathlib import Path

from api.state import LoadedTwin
from contract.bindings import BindingTable


def load_from_config(twin_config: Path) -> LoadedTwin:
    from twin.config import cache_dir, load_config, load_twin
    from twin.floorplan import attach_footprints

    campuses = load_twin(twin_config)
    cfg, base = load_config(twin_config)
    for campus in campuses:
        attach_footprints(campus, cache_dir(cfg, base))  # floor plans, cached by IFC file hash
    files: dict[str, Path] = {}
    for c in cfg.campuses:
        if c.bindings:
            p = Path(c.bindings)
            files[c.id] = p if p.is_absolute() else base / p
    table = BindingTable(bindings=[b for c in campuses for b in c.bindings])
    return LoadedTwin(campuses=campuses, bindings=table, binding_files=files)
