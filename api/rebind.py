"""Rebinding: edit the campus's binding YAML (the person's intent, comments kept) atomically."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from contract.bindings import BindingTable
from contract.yamlio import load_yaml_for_edit


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_binding_entry(
    path: Path,
    site: str,
    device: str,
    point: str | None,
    space_gid: str,
    role: str | None = None,
    note: str | None = None,
) -> None:
    """Replace the entries for (site, device, point) in the binding YAML with one to `space_gid`;
    `note` (who bound it, when) becomes the entry's end-of-line comment."""
    doc = load_yaml_for_edit(path) if path.is_file() else None
    if not isinstance(doc, CommentedMap):
        doc = CommentedMap()
    entries = doc.get("bindings")
    if not isinstance(entries, CommentedSeq):
        entries = CommentedSeq()
        doc["bindings"] = entries
    default_site = doc.get("site")
    keep = [
        e
        for e in entries
        if not (
            isinstance(e, dict)
            and e.get("device") == device
            and e.get("point") == point
            and (e.get("site") or default_site) in (site, None)
        )
    ]
    entries.clear()
    entries.extend(keep)
    entry = CommentedMap(device=device)
    if point is not None:
        entry["point"] = point
    entry["space"] = space_gid
    entry["site"] = site
    if role is not None:
        entry["role"] = role
    if note:
        entry.yaml_add_eol_comment(note.replace("\n", " "), next(reversed(entry)))
    entries.append(entry)
    y = YAML(typ="rt")
    buf = io.StringIO()
    y.dump(doc, buf)
    write_atomic(path, buf.getvalue())


def export_table(table: BindingTable, path: Path) -> None:
    write_atomic(path, table.model_dump_json(indent=2, exclude_none=True))
