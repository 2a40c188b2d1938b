"""Load the twin named by the API config: prepared campuses (`twin.config.load_twin`) and the
binding table they carry, plus each campus's binding file (where rebinding writes).

Used at start-up and by POST /admin/reload. An IFC file that is missing, unreadable, in an
unsupported schema or truncated never stops the API: it is one file-level `Problem` of its
campus (kind, schema, reason; see `file_problems`) and every other file and campus is served.
A malformed twin config raises `ConfigError` (file:line:col), answered as a structured 409 on
reload while the previous twin keeps serving."""

from __future__ import annotations

import logging
from pathlib import Path

from api.state import LoadedTwin
from contract.bindings import BindingTable
from twin.model import Problem

log = logging.getLogger(__name__)


def file_problems(loaded: LoadedTwin) -> list[Problem]:
    """The file-level problems of every campus (unreadable, unsupported, truncated IFC files)."""
    return [p for c in loaded.campuses for p in c.problems if p.kind is not None]


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
    loaded = LoadedTwin(campuses=campuses, bindings=table, binding_files=files)
    for fp in file_problems(loaded):
        log.warning("IFC file not (fully) loaded: %s: %s (%s): %s", fp.file, fp.kind, fp.schema, fp.message)
    return loaded
