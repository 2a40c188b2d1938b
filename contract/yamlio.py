"""Load YAML into pydantic models with errors that name file, line and field.

Every declarative file of the project (device profiles, agent/ingest config, room-type
rules, standards, indicators, campus specs) goes through `load_model`, so a technician
always gets `path:line:col: field a.b[2].c: message` instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

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


def load_yaml(path: str | Path) -> Any:
    """Round-trip load (keeps line numbers). Raises ConfigError with file:line on syntax errors."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(p), [f"{p}: cannot read: {exc.strerror or exc}"]) from None
    return loads_yaml(text, str(p))


def loads_yaml(text: str, name: str = "<string>") -> Any:
    try:
        return _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise ConfigError(name, [f"{where}: YAML syntax: {exc.problem or exc.context}"]) from None
    except Exception as exc:  # ruamel raises a few non-marked errors (e.g. duplicate keys)
        raise ConfigError(name, [f"{name}: YAML: {exc}"]) from None


def locate(doc: Any, loc: Sequence[str | int]) -> tuple[int, int] | None:
    """Line and column (1-based) of the deepest node of `loc` that exists in `doc`."""
    node = doc
    found: tuple[int, int] | None = None
    for key in loc:
        if isinstance(node, CommentedMap) and key in node:
            try:
                line, col = node.lc.key(key)
                found = (line + 1, col + 1)
            except (KeyError, TypeError):
                pass
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
            try:
                line, col = node.lc.item(key)
                found = (line + 1, col + 1)
            except (KeyError, TypeError, IndexError):
                pass
            node = node[key]
        else:
            break
    if found is None and isinstance(doc, CommentedMap | CommentedSeq) and doc.lc.line is not None:
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
