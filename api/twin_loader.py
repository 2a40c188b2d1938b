"""Load the twin named by the API config: prepared campuses (`twin.config.load_twin`) and the
binding table they carry, plus each campus's binding file (where rebinding writes).

Used at start-up and by POST /admin/reload. An IFC file that is missing, unreadable, in an
unsupported schema or truncated never stops the API: it is one file-level `Problem` of its
campus (kind, schema, reason; see `file_problems`) and every other file and campus is served.
Any exception while reading a file, and a native crash of the IFC library (files not read
before are read in a child process, `twin.isolate`), is such a problem too. Campuses built from
one model keep their own rooms: shared GlobalIds are qualified by campus (`twin.identity`).
Each file is parsed once per cold load: the model and its floor plans come from one parse and
the plans are cached by file hash. A malformed twin config raises `ConfigError`
(file:line:col), answered as a structured 409 on reload while the previous twin keeps serving."""

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
    from twin.config import load_config, load_twin
    from twin.identity import qualify_shared_ids

    campuses = load_twin(twin_config, plans=True)
    cfg, base = load_config(twin_config)
    shared = qualify_shared_ids(campuses)
    if shared:
        log.info(
            "%d objects share a GlobalId with another campus or file: served as <campus>:<GlobalId>", shared
        )
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
