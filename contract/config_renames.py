"""Renamed config keys, applied to a loaded YAML document: one table (`config_renames.yaml`) for
the loaders' deprecation warnings and for `campus-twin config migrate`.

`apply_renames(config, doc, name)` rewrites old keys *in place* in a ruamel round-trip document
(the key keeps its position, line/column and comments), so the model validates the new spelling
and an error still points at the right line; it returns one `Deprecation` per key it rewrote,
with the message naming the new key. A row is kept for at least one release after the rename
(README: upgrades never strand a user).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from contract.yamlio import ConfigError, format_loc, load_model, load_yaml, validate_doc

TABLE = Path(__file__).with_name("config_renames.yaml")
ConfigKind = Literal["agent", "ingest", "api", "indicators"]
M = TypeVar("M", bound=BaseModel)
log = logging.getLogger("campus_twin.config")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rename(_Strict):
    config: ConfigKind
    path: str = Field(description="dotted path of the map holding the old key; [] = every list item")
    op: Literal["rename", "listen", "drop"]
    old: str
    new: str | None
    since: str
    note: str | None = None


class RenameTable(_Strict):
    v: Literal[1]
    renames: list[Rename]


@functools.cache
def renames() -> RenameTable:
    return load_model(RenameTable, TABLE)


@dataclass(frozen=True)
class TextEdit:
    """The same change on the file's text, at the key's position (0-based line/col), for
    `config migrate`: rename the key only, or replace/remove the whole `key: value` entry."""

    line: int
    col: int
    key: str
    replace: str | None  # new key name, or the new entry text; None: remove the entry
    entry: bool = False  # True: `replace` is the whole entry `key: value`


@dataclass(frozen=True)
class Deprecation:
    """One old key found (and rewritten) in a file."""

    where: str  # file:line:col
    old: str  # field path as written, e.g. modbus[0].transport.kind
    new: str | None  # the field path to write now; None: removed
    since: str
    note: str | None = None
    edits: tuple[TextEdit, ...] = ()

    def message(self) -> str:
        file = self.where.split(":", 1)[0]
        fix = f"`campus-twin config migrate {file}` rewrites the file"
        if self.new is None:
            what = f"removed ({self.note})" if self.note else "removed"
            return (
                f"{self.where}: field {self.old}: 已弃用 deprecated, {what} in {self.since}; ignored — {fix}"
            )
        return (
            f"{self.where}: field {self.old}: 已弃用 deprecated key, now `{self.new}` (renamed in "
            f"{self.since}); still accepted — {fix}"
        )


def load_renamed(config: ConfigKind, model: type[M], path: str | Path) -> M:
    """Load a process config: keys this table renamed are read under their new name, each with
    one deprecation warning naming it (`campus-twin config migrate FILE` rewrites the file);
    every other problem is a ConfigError at file:line:col. The one loader of every config kind."""
    name = str(path)
    doc = load_yaml(path)
    if doc is None:
        raise ConfigError(name, [f"{name}: file is empty"])
    for old in apply_renames(config, doc, name):
        log.warning("%s", old.message())
    return validate_doc(model, doc, name)


def apply_renames(config: ConfigKind, doc: Any, name: str) -> list[Deprecation]:
    """Rewrite every old key of `config`'s table rows found in `doc` (in place)."""
    out: list[Deprecation] = []
    for row in renames().renames:
        if row.config != config:
            continue
        for loc, node in _maps(doc, _parts(row.path), []):
            if row.old not in node:
                continue
            pos = _position(node, row.old, name)
            old_loc = format_loc([*loc, row.old])
            edits: list[TextEdit | None] = []
            if row.op == "rename":
                assert row.new is not None
                edits.append(_edit(node, row.old, row.new, entry=False))
                if row.new in node:  # both spellings: the new one wins, the old is reported
                    edits[-1] = _edit(node, row.old, None)
                    del node[row.old]
                else:
                    _rename_key(node, row.old, row.new)
                out.append(
                    Deprecation(pos, old_loc, format_loc([*loc, row.new]), row.since, row.note, _real(edits))
                )
            elif row.op == "listen":
                host, port = node.get(row.old), node.get("port")
                new = row.new or "listen"
                value: str | None = None
                if new not in node and host is not None and port is not None:
                    value = f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
                    if node.get("enabled") is False:  # the old metrics switch: `listen: null` now
                        value = None
                    edits.append(
                        _edit(node, row.old, f"{new}: " + (f'"{value}"' if value else "null"), entry=True)
                    )
                    _rename_key(node, row.old, new)
                    node[new] = value
                else:
                    edits.append(_edit(node, row.old, None))
                    del node[row.old]
                for gone in ("port", *(("enabled",) if loc or row.path else ())):
                    if gone in node:
                        edits.append(_edit(node, gone, None))
                        del node[gone]
                out.append(
                    Deprecation(
                        pos, f"{old_loc}, port", format_loc([*loc, new]), row.since, row.note, _real(edits)
                    )
                )
            else:
                edits.append(_edit(node, row.old, None))
                del node[row.old]
                out.append(Deprecation(pos, old_loc, None, row.since, row.note, _real(edits)))
    return out


def _edit(node: Any, key: str, replace: str | None, entry: bool = True) -> TextEdit | None:
    lc = getattr(node, "lc", None)
    try:
        line, col = lc.key(key) if lc is not None else (None, None)
    except (KeyError, TypeError):
        return None
    if line is None or col is None:
        return None
    return TextEdit(line, col, key, replace, entry)


def _real(edits: list[TextEdit | None]) -> tuple[TextEdit, ...]:
    return tuple(e for e in edits if e is not None)


def _parts(path: str) -> list[str]:
    return [p for p in path.split(".") if p] if path else []


def _maps(node: Any, parts: list[str], loc: list[str | int]) -> list[tuple[list[str | int], Any]]:
    """Every map at `parts` (a `name[]` part walks every item of a list)."""
    if not parts:
        return [(loc, node)] if isinstance(node, dict) else []
    head, rest = parts[0], parts[1:]
    each = head.endswith("[]")
    key = head[:-2] if each else head
    if not isinstance(node, dict) or key not in node:
        return []
    child = node[key]
    if not each:
        return _maps(child, rest, [*loc, key])
    if not isinstance(child, list):
        return []
    return [m for i, item in enumerate(child) for m in _maps(item, rest, [*loc, key, i])]


def _position(node: Any, key: str, name: str) -> str:
    lc = getattr(node, "lc", None)
    try:
        line, col = lc.key(key) if lc is not None else (None, None)
    except (KeyError, TypeError):
        line, col = None, None
    return f"{name}:{line + 1}:{col + 1}" if line is not None and col is not None else name


def _rename_key(node: Any, old: str, new: str) -> None:
    """Rename keeping order, comments and line/column (ruamel CommentedMap); plain dicts too."""
    keys = list(node.keys())
    value = node[old]
    if hasattr(node, "insert"):
        pos = keys.index(old)
        comment = node.ca.items.pop(old, None)
        lc = node.lc.data.get(old)
        del node[old]
        node.insert(pos, new, value)
        if comment is not None:
            node.ca.items[new] = comment
        if lc is not None:
            node.lc.data[new] = lc
        return
    items = [(new if k == old else k, value if k == old else node[k]) for k in keys]
    node.clear()
    node.update(items)


def detect_kind(doc: Any) -> ConfigKind | None:
    """Which config a document is, from its keys (for `config migrate` without --kind)."""
    if not isinstance(doc, dict):
        return None
    keys = set(doc)
    if {"site", "agent"} <= keys:
        return "agent"
    if "plan_indicators" in keys or "operational" in keys:
        return "indicators"
    if "twin_config" in keys or "agent_health" in keys or "tokens" in keys:
        return "api"
    if "store" in keys or "broker" in keys:
        return "ingest"
    return None
