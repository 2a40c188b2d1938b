"""The one guarded way to open an IFC file: every failure becomes an `IfcFileProblem`.

Contractor models arrive missing, empty, as another format renamed `.ifc`, in a schema this
ifcopenshell cannot read (IFC4X3_RC2), or cut off by a failed upload. `ifcopenshell.open` raises
four different exception types for these and happily opens a truncated file, so every entry
point (loader, plans, write-back, bind, API) opens through `open_ifc` and reports the problem
for that file instead of dying or silently loading half a model.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ifcopenshell

END_MARKER = b"END-ISO-10303-21;"
START_MARKER = b"ISO-10303-21;"
_HEAD_BYTES = 64 * 1024
_TAIL_BYTES = 4 * 1024
_SCHEMA_RE = re.compile(rb"FILE_SCHEMA\s*\(\s*\(\s*'([^']*)'")
_DEFINED_RE = re.compile(rb"(?m)^\s*#(\d+)\s*=")
_REF_RE = re.compile(rb"#(\d+)")
_STRING_RE = re.compile(
    rb"'[^']*(?:''[^']*)*'"
)  # STEP strings ('' escapes a quote): "Room #5" is no reference

# kinds of file-level problems (stable strings: tests, JSON and the API use them)
MISSING = "missing"
EMPTY = "empty"
NOT_IFC = "not_ifc"
UNSUPPORTED_SCHEMA = "unsupported_schema"
TRUNCATED = "truncated"
BROKEN_REFERENCES = "unresolved_references"
UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class IfcFileProblem:
    """Why a file could not be used (or only partly): file, schema as declared, kind, reason."""

    file: str
    schema: str | None
    kind: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.kind} ({self.schema or 'schema unknown'}): {self.reason}"


class IfcFileError(Exception):
    """Raised by `open_ifc`; carries the structured problem."""

    def __init__(self, problem: IfcFileProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(slots=True)
class OpenedIfc:
    """An opened file; `truncated` is set when the caller allowed a truncated file."""

    file: ifcopenshell.file
    path: str
    schema: str
    open_s: float
    truncated: IfcFileProblem | None = None


def _sniff(path: Path) -> tuple[bytes, bytes, int]:
    """First 64 KiB, last 4 KiB and size; OSError for missing/unreadable paths."""
    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
        size = fh.seek(0, 2)
        fh.seek(max(0, size - _TAIL_BYTES))
        tail = fh.read()
    return head, tail, size


def declared_schema(head: bytes) -> str | None:
    m = _SCHEMA_RE.search(head)
    return m.group(1).decode("ascii", "replace") if m else None


def unresolved_references(path: Path) -> int:
    """How many distinct `#n` references point at no entity in the file (a full scan costing about
    a third of a bare open: run for suspicious files and by writers, not by every reader)."""
    data = _STRING_RE.sub(b"''", path.read_bytes())
    defined = set(_DEFINED_RE.findall(data))
    return len(set(_REF_RE.findall(data)) - defined)


def bare_open(path: str | Path, *, lazy: bool = False) -> ifcopenshell.file:
    """`ifcopenshell.open`, lazily when asked (its type stubs do not know `lazy` yet)."""
    kwargs: dict[str, Any] = {"lazy": True} if lazy else {}
    f = ifcopenshell.open(str(path), **kwargs)
    assert isinstance(f, ifcopenshell.file)
    return f


def _problem(p: Path, schema: str | None, kind: str, reason: str) -> IfcFileError:
    return IfcFileError(IfcFileProblem(str(p), schema, kind, reason))


def check_file(path: str | Path) -> tuple[str | None, IfcFileProblem | None]:
    """Cheap checks before parsing: (declared schema, problem or None). A truncated file is
    reported as a problem of kind TRUNCATED; the caller decides whether to open it anyway."""
    p = Path(path)
    try:
        head, tail, size = _sniff(p)
    except FileNotFoundError:
        return None, IfcFileProblem(str(p), None, MISSING, "file does not exist")
    except OSError as exc:
        return None, IfcFileProblem(str(p), None, UNREADABLE, f"cannot read: {exc.strerror or exc}")
    if size == 0:
        return None, IfcFileProblem(str(p), None, EMPTY, "file is empty (0 bytes)")
    if head[:2] == b"PK":  # .ifczip: ifcopenshell decides
        return None, None
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[: len(START_MARKER)] != START_MARKER:
        return None, IfcFileProblem(
            str(p), None, NOT_IFC, "not an IFC-SPF file (does not start with ISO-10303-21;)"
        )
    schema = declared_schema(head)
    if END_MARKER not in tail:
        missing = unresolved_references(p)
        refs = f"; {missing} references point at entities not in the file" if missing else ""
        return schema, IfcFileProblem(
            str(p), schema, TRUNCATED, f"file truncated: no END-ISO-10303-21; at the end ({size} bytes){refs}"
        )
    return schema, None


def open_ifc(
    path: str | Path, *, allow_truncated: bool = False, lazy: bool = False, verify_references: bool = False
) -> OpenedIfc:
    """Open `path` or raise `IfcFileError` naming file, schema and reason. Never raises anything else
    for a bad file. With `allow_truncated` a truncated file opens and `OpenedIfc.truncated` says so.

    `lazy` indexes the file in one quick pass and parses an entity's attributes when first read
    (about half the time of a full open for readers that touch a fraction of the model, such as
    the loader); writers open in full. `verify_references` also scans a complete-looking file for
    `#n` references to entities it does not hold (a file damaged in the middle): writers use it,
    since they would copy the damage into their output."""
    p = Path(path)
    t0 = time.perf_counter()
    schema, problem = check_file(p)
    if problem is not None and not (allow_truncated and problem.kind == TRUNCATED):
        raise IfcFileError(problem)
    if verify_references and problem is None and (missing := unresolved_references(p)):
        raise _problem(
            p, schema, BROKEN_REFERENCES, f"{missing} references point at entities not in the file"
        )
    try:
        f = bare_open(p, lazy=lazy)
    except ifcopenshell.SchemaError as exc:
        raise _problem(
            p, schema, UNSUPPORTED_SCHEMA, f"schema not supported by ifcopenshell: {exc}"
        ) from None
    except (OSError, RuntimeError, ifcopenshell.Error) as exc:
        raise _problem(p, schema, UNREADABLE, f"cannot parse: {exc}") from None
    if not f.by_type("IfcProject") and not f.by_type("IfcRoot"):
        if problem is not None:
            raise IfcFileError(problem)
        raise _problem(p, f.schema, EMPTY, "no entities in the DATA section (header only)")
    return OpenedIfc(f, str(p), f.schema, time.perf_counter() - t0, problem)
