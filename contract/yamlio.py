"""Load YAML into pydantic models with errors that name file, line and field.

Every declarative file of the project (device profiles, agent/ingest config, room-type
rules, standards, indicators, campus specs) goes through `load_model`, so a technician
always gets `path:line:col: field a.b[2].c: message` instead of a traceback.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """One or more problems in a config file; `str()` is ready to print to a technician."""

    def __init__(self, path: str, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    return y


def _read(path: str | Path) -> tuple[str, str]:
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8"), str(p)
    except OSError as exc:
        raise ConfigError(str(p), [f"{p}: cannot read: {exc.strerror or exc}"]) from None


def load_yaml(path: str | Path) -> Any:
    """The document with line numbers on every container. Raises ConfigError with file:line."""
    return loads_yaml(*_read(path))


def load_yaml_for_edit(path: str | Path) -> Any:
    """ruamel's round-trip document (comments, order, styles kept) for a command that edits a
    file and writes it back (`api token add`, rebinding): slower, and only where it matters."""
    return _ruamel_load(*_read(path))


def loads_yaml(text: str, name: str = "<string>") -> Any:
    """The document with line numbers on every mapping and sequence. libyaml (C) reads it when it
    can, with ruamel's YAML 1.2 meaning of every plain scalar (`yes`, `08:00` and `017` are a
    string, a string and 17); anything it does not take (syntax errors, tags, merge keys,
    duplicate keys) is read by ruamel, which also words every error."""
    try:
        return _fast_load(text)
    except Exception:  # not a failure: ruamel reads it, and words any error
        pass
    return _ruamel_load(text, name)


def _ruamel_load(text: str, name: str) -> Any:
    try:
        return _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise ConfigError(name, [f"{where}: YAML syntax: {exc.problem or exc.context}"]) from None
    except Exception as exc:  # ruamel raises a few non-marked errors (e.g. duplicate keys)
        raise ConfigError(name, [f"{name}: YAML: {exc}"]) from None


# --- the libyaml path ----------------------------------------------------------------------
# ruamel (pure Python) parses ~30× slower than libyaml; loading the project's declarative files
# dominated start-up of every process and of the test suite. The result here has the shape
# `locate` reads from ruamel's containers: `.lc.line/.col`, `.lc.key(k)`, `.lc.item(i)`.


class _Lines:
    __slots__ = ("_at", "col", "line")

    def __init__(self, line: int, col: int) -> None:
        self.line, self.col = line, col
        self._at: dict[Any, tuple[int, int]] = {}

    def key(self, key: Any) -> tuple[int, int]:
        return self._at[key]

    def item(self, index: int) -> tuple[int, int]:
        return self._at[index]


class LineMap(dict[Any, Any]):
    """A mapping that knows where each of its keys stands in the file."""

    lc: _Lines


class LineSeq(list[Any]):
    """A sequence that knows where each of its items stands in the file."""

    lc: _Lines


class _Unsupported(Exception):
    """Something only ruamel reads (or words) right: the document goes to ruamel."""


_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Yaml12Loader(_BaseLoader):
    """libyaml with YAML 1.2's implicit types, as ruamel resolves them (not PyYAML's 1.1 set)."""

    yaml_implicit_resolvers: ClassVar[dict[str | None, list[tuple[str, re.Pattern[str]]]]] = {}


def _install_yaml12_resolvers() -> None:
    from ruamel.yaml.resolver import implicit_resolvers

    for versions, tag, regexp, first in implicit_resolvers:
        if (1, 2) in versions and tag.rsplit(":", 1)[-1] in {
            "bool",
            "float",
            "int",
            "null",
            "timestamp",
            "merge",
        }:
            _Yaml12Loader.add_implicit_resolver(tag, regexp, first)


_install_yaml12_resolvers()
_TS = yaml.SafeLoader("")  # only its timestamp constructor is used (a pure function of the node)


def _scalar(node: yaml.ScalarNode) -> Any:
    tag, value = node.tag, node.value
    if tag == "tag:yaml.org,2002:str":
        return value
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return value in ("true", "True", "TRUE")
    if tag == "tag:yaml.org,2002:int":
        v = value.replace("_", "")
        sign = -1 if v.startswith("-") else 1
        v = v.lstrip("+-")
        for prefix, base in (("0b", 2), ("0o", 8), ("0x", 16)):
            if v.startswith(prefix):
                return sign * int(v[2:], base)
        return sign * int(v, 10)
    if tag == "tag:yaml.org,2002:float":
        v = value.replace("_", "").lower()
        if v.endswith(".inf"):
            return -math.inf if v.startswith("-") else math.inf
        if v.endswith(".nan"):
            return math.nan
        return float(v)
    if tag == "tag:yaml.org,2002:timestamp":
        stamp = _TS.construct_yaml_timestamp(node)
        if not isinstance(stamp, dt.date):
            raise _Unsupported(tag)
        return stamp
    raise _Unsupported(tag)  # explicit tags, merge keys: ruamel's business


def _build(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    mark = node.start_mark
    if isinstance(node, yaml.SequenceNode):
        if node.tag != "tag:yaml.org,2002:seq":
            raise _Unsupported(node.tag)
        seq = LineSeq()
        seq.lc = _Lines(mark.line, mark.column)
        for i, item in enumerate(node.value):
            seq.lc._at[i] = (item.start_mark.line, item.start_mark.column)
            seq.append(_build(item))
        return seq
    if isinstance(node, yaml.MappingNode) and node.tag == "tag:yaml.org,2002:map":
        out = LineMap()
        out.lc = _Lines(mark.line, mark.column)
        for knode, vnode in node.value:
            key = _build(knode)
            if isinstance(key, list | dict) or key in out:
                raise _Unsupported("complex or duplicate key")
            out.lc._at[key] = (knode.start_mark.line, knode.start_mark.column)
            out[key] = _build(vnode)
        return out
    raise _Unsupported(node.tag)


# a tag (`!!str 5`, `!custom`): libyaml's node no longer says it was explicit, ruamel keeps it
_TAG = re.compile(r"(?:^|[\s\[\]{},:-])!")


def _fast_load(text: str) -> Any:
    if _TAG.search(text):
        raise _Unsupported("tag")
    node = yaml.compose(text, Loader=_Yaml12Loader)
    return None if node is None else _build(node)


def locate(doc: Any, loc: Sequence[str | int]) -> tuple[int, int] | None:
    """Line and column (1-based) of the deepest node of `loc` that exists in `doc`."""
    node = doc
    found: tuple[int, int] | None = None
    for key in loc:
        if isinstance(node, CommentedMap | LineMap) and key in node:
            try:
                line, col = node.lc.key(key)
                found = (line + 1, col + 1)
            except (KeyError, TypeError):
                pass
            node = node[key]
        elif isinstance(node, CommentedSeq | LineSeq) and isinstance(key, int) and 0 <= key < len(node):
            try:
                line, col = node.lc.item(key)
                found = (line + 1, col + 1)
            except (KeyError, TypeError, IndexError):
                pass
            node = node[key]
        else:
            break
    if (
        found is None
        and isinstance(doc, CommentedMap | CommentedSeq | LineMap | LineSeq)
        and doc.lc.line is not None
    ):
        found = (doc.lc.line + 1, doc.lc.col + 1)
    return found


def format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _yaml_loc(doc: Any, loc: Sequence[str | int]) -> list[str | int]:
    """Drop the parts pydantic adds that are not YAML keys (union member / tag names such as
    `store.sqlite.path` → `store.path`), so the field path reads as the file does."""
    out: list[str | int] = []
    node = doc
    for i, key in enumerate(loc):
        if isinstance(node, dict) and isinstance(key, str) and key not in node:
            nxt = loc[i + 1] if i + 1 < len(loc) else None
            if isinstance(nxt, str) and nxt in node:
                continue  # `key` is a union tag; the next part is the real field
        out.append(key)
        node = _child(node, key)
    return out


def _child(node: Any, key: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(key)
    if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
        return node[key]
    return None


def validation_problems(
    name: str, doc: Any, exc: ValidationError, prefix: Sequence[str | int] = ()
) -> list[str]:
    problems = []
    for err in exc.errors():
        # pydantic puts union/tag discriminators into loc; keep only keys that exist in YAML
        loc = _yaml_loc(doc, [*prefix, *(p for p in err["loc"] if isinstance(p, int | str))])
        pos = locate(doc, loc)
        where = f"{name}:{pos[0]}:{pos[1]}" if pos else name
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check spelling)"
        problems.append(f"{where}: field {format_loc(loc)}: {msg}")
    return problems


def to_plain(node: Any) -> Any:
    """ruamel's commented containers as plain dict/list (pydantic handles both, this is for JSON)."""
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    return node


def validate_doc(model: type[M], doc: Any, name: str) -> M:
    try:
        return model.model_validate(to_plain(doc))
    except ValidationError as exc:
        raise ConfigError(name, validation_problems(name, doc, exc)) from None


def load_model(model: type[M], path: str | Path) -> M:
    """Load a YAML file as `model`; ConfigError lists every problem with file:line:col and field."""
    doc = load_yaml(path)
    if doc is None:
        raise ConfigError(str(path), [f"{path}: file is empty"])
    return validate_doc(model, doc, str(path))
