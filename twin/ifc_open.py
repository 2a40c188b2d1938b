"""The one guarded way to open an IFC file: every failure becomes an `IfcFileProblem`.

Contractor models arrive missing, empty, as another format renamed `.ifc`, in a schema this
ifcopenshell cannot read (IFC4X3_RC2), cut off by a failed upload, or damaged in the middle (a
block of bytes lost in a copy: a broken line, or whole entities gone while the end marker
survives). `ifcopenshell.open` raises four different exception types for these, says only
"check logs" for a syntax error, and happily opens a truncated file or one with references to
entities that are not there, so every entry point (loader, plans, write-back, bind, API) opens
through `open_ifc` and reports the problem for that file, with the line where the body breaks,
instead of dying or silently loading half a model.

Containers are opened here too, with the same checks: a `.ifczip` (any file that is a zip) is
unpacked and its one IFC-SPF member goes through exactly the checks a plain file does (a truncated
member is refused with its line, like the same file unzipped); a zip without an IFC member, with
several, or holding ifcXML, and an ifcXML file (not supported by this ifcopenshell) are refused by
name. Whatever else a reader raises (ifcopenshell's `LookupError`, a zip `BadZipFile`, an
`AttributeError` from colliding entity ids …) becomes an UNREADABLE problem for that one file.
A native crash cannot be caught in-process: `twin.isolate` opens heavy or unknown files in a
child process, which turns a crash into a CRASHED problem.
"""

from __future__ import annotations

import re
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ifcopenshell
import numpy as np

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
DAMAGED = "damaged"  # a syntax error in the body: ifcopenshell cannot read the file at all
UNREADABLE = "unreadable"
NO_MODEL = "no_model"  # a container (.ifczip) that holds no IFC file
UNSUPPORTED_FORMAT = "unsupported_format"  # ifcXML: refused by name
CRASHED = "crashed"  # the IFC library died natively (segfault) reading the file (twin.isolate)
PARTIAL_KINDS = frozenset({TRUNCATED, BROKEN_REFERENCES})  # what a reader may load in part
_OFFSET_RE = re.compile(r"token (.{0,40}?) at offset (\d+)")


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

    def __reduce__(self) -> tuple[type[IfcFileError], tuple[IfcFileProblem]]:
        return IfcFileError, (self.problem,)  # whole across the pipe from a child reader (twin.isolate)


@dataclass(slots=True)
class OpenedIfc:
    """An opened file; `partial` is set when the caller allowed a truncated or damaged body."""

    file: ifcopenshell.file
    path: str
    schema: str
    open_s: float
    partial: IfcFileProblem | None = None


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


@dataclass(frozen=True, slots=True)
class Unresolved:
    """References to entities the file does not hold: how many, the first line that has one, and
    a few of the missing ids (what a user looks for in the original export)."""

    count: int
    line: int
    ids: tuple[int, ...]

    def __str__(self) -> str:
        ids = ", ".join(f"#{i}" for i in self.ids) + (", …" if self.count > len(self.ids) else "")
        return f"{self.count} referenced entities are not in the file ({ids}), first referenced on line {self.line}"


def unresolved_references(path: Path) -> Unresolved | None:
    """The `#n` references that point at no entity in the file (None: every one resolves). A
    vectorised pass over the bytes first (about a third of a lazy open); only when it finds a
    candidate are strings ('Room #5') stripped and the file scanned exactly, for the ids and line."""
    raw = path.read_bytes()
    if not len(_missing(*_hash_numbers(raw))):
        return None
    data = _STRING_RE.sub(lambda m: b"''" + b"\n" * m.group().count(b"\n"), raw)  # keep line numbers
    missing = set(_REF_RE.findall(data)) - set(_DEFINED_RE.findall(data))
    if not missing:
        return None
    first = min(m.start() for n in missing for m in [re.search(rb"#" + n + rb"(?!\d)", data)] if m)
    ids = tuple(sorted(int(n) for n in missing)[:3])
    return Unresolved(len(missing), data.count(b"\n", 0, first) + 1, ids)


_ID_DIGITS = 10  # `#n`: at most this many digits are read


def _hash_numbers(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Every `#n` in the file as (references, definitions), definitions being `#n=` at a line
    start. Strings are not skipped, so the references are a superset of the real ones and a file
    whose every candidate resolves is sound; anything else goes to the exact scan."""
    buf = np.frombuffer(raw + b"\0" * (_ID_DIGITS + 2), dtype=np.uint8)
    pos = np.flatnonzero(buf == ord("#"))
    num = np.zeros(len(pos), dtype=np.int64)
    run = np.zeros(len(pos), dtype=np.int64)
    going = np.ones(len(pos), dtype=bool)
    for j in range(_ID_DIGITS):
        digit = buf[pos + 1 + j].astype(np.int64) - ord("0")
        going &= (digit >= 0) & (digit <= 9)
        if not going.any():
            break
        num = np.where(going, num * 10 + digit, num)
        run += going
    has = run > 0
    end = pos + 1 + run
    before = buf[np.maximum(pos - 1, 0)]
    before[pos == 0] = ord("\n")
    after = buf[end]
    eq = (after == ord("=")) | ((after == ord(" ")) & (buf[end + 1] == ord("=")))
    defined = has & (before == ord("\n")) & eq
    return num[has & ~defined], num[defined]


def _missing(refs: np.ndarray, defined: np.ndarray) -> np.ndarray:
    top = int(max(refs.max(initial=0), defined.max(initial=0)))
    if top > 50_000_000:  # a huge number (in a string, say): no lookup table that large
        return np.setdiff1d(refs, defined)
    known = np.zeros(top + 1, dtype=bool)
    known[defined] = True
    return refs[~known[refs]]


def _line_at(path: Path, offset: int) -> int:
    with path.open("rb") as fh:
        return fh.read(offset).count(b"\n") + 1


def bare_open(path: str | Path, *, lazy: bool = False) -> ifcopenshell.file:
    """`ifcopenshell.open`, lazily when asked (its type stubs do not know `lazy` yet)."""
    kwargs: dict[str, Any] = {"lazy": True} if lazy else {}
    f = ifcopenshell.open(str(path), **kwargs)
    assert isinstance(f, ifcopenshell.file)
    return f


def _problem(p: Path, schema: str | None, kind: str, reason: str) -> IfcFileError:
    return IfcFileError(IfcFileProblem(str(p), schema, kind, reason))


_XML_START = (b"<?xml", b"<ifc", b"<iso_10303_28", b"<ex:iso_10303_28")


def _sniff_problem(p: Path, head: bytes, size: int) -> IfcFileProblem | None:
    if size == 0:
        return IfcFileProblem(str(p), None, EMPTY, "file is empty (0 bytes)")
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if p.suffix.lower() == ".ifcxml" or body[:32].lower().startswith(_XML_START):
        return IfcFileProblem(
            str(p),
            None,
            UNSUPPORTED_FORMAT,
            "ifcXML is not supported: export the model as IFC-SPF (.ifc, or a .ifczip holding one)",
        )
    if body[: len(START_MARKER)] != START_MARKER:
        return IfcFileProblem(
            str(p), None, NOT_IFC, "not an IFC-SPF file (does not start with ISO-10303-21;)"
        )
    return None


def check_file(path: str | Path) -> tuple[str | None, IfcFileProblem | None]:
    """Cheap checks before parsing: (declared schema, problem or None). A truncated file is
    reported as a problem of kind TRUNCATED; the caller decides whether to open it anyway.
    A zip is not checked here: `open_ifc` unpacks it and checks its member."""
    p = Path(path)
    try:
        head, tail, size = _sniff(p)
    except FileNotFoundError:
        return None, IfcFileProblem(str(p), None, MISSING, "file does not exist")
    except OSError as exc:
        return None, IfcFileProblem(str(p), None, UNREADABLE, f"cannot read: {exc.strerror or exc}")
    if head[:2] == b"PK":
        return None, None
    early = _sniff_problem(p, head, size)
    if early is not None:
        return None, early
    schema = declared_schema(head)
    missing = unresolved_references(p)
    if END_MARKER not in tail:
        refs = f"; {missing}" if missing else ""
        return schema, IfcFileProblem(
            str(p), schema, TRUNCATED, f"file truncated: no END-ISO-10303-21; at the end ({size} bytes){refs}"
        )
    if missing:
        return schema, IfcFileProblem(
            str(p), schema, BROKEN_REFERENCES, f"body damaged, part of the file is lost: {missing}"
        )
    return schema, None


def is_zip(path: str | Path) -> bool:
    try:
        with Path(path).open("rb") as fh:
            return fh.read(2) == b"PK"
    except OSError:
        return False


def zip_member(path: Path) -> str:
    """The one IFC-SPF member of a zip, or `IfcFileError` naming what the zip holds instead."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/") and "__MACOSX" not in n]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _problem(path, None, DAMAGED, f"zip container damaged: {exc}") from None
    spf = [n for n in names if Path(n).suffix.lower() == ".ifc"]
    xml = [n for n in names if Path(n).suffix.lower() == ".ifcxml"]
    if len(spf) == 1:
        return spf[0]
    if len(spf) > 1:
        raise _problem(
            path, None, NO_MODEL, f"zip holds {len(spf)} IFC files ({', '.join(spf[:5])}): one model per zip"
        )
    if xml:
        raise _problem(
            path,
            None,
            UNSUPPORTED_FORMAT,
            f"zip holds ifcXML ({xml[0]}), which is not supported: export IFC-SPF (.ifc)",
        )
    shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "") if names else "nothing"
    raise _problem(path, None, NO_MODEL, f"zip holds no .ifc file (it holds {shown})")


def _in_member(exc: IfcFileError, path: Path, member: str) -> IfcFileError:
    """A member's problem as the zip's: the file users configured, the member named in the reason."""
    pr = exc.problem
    if pr.reason.startswith("in zip member"):
        return exc
    return IfcFileError(
        IfcFileProblem(str(path), pr.schema, pr.kind, f"in zip member {member!r}: {pr.reason}")
    )


def open_ifc(path: str | Path, *, allow_partial: bool = False, lazy: bool = False) -> OpenedIfc:
    """Open `path` or raise `IfcFileError` naming file, schema and reason. Never raises anything else
    for a bad file. A body that is truncated or refers to entities not in the file (damaged in the
    middle) is refused, naming the line, unless `allow_partial` (readers that list problems: the
    loader); then it opens and `OpenedIfc.partial` says what is wrong. Writers never allow it:
    they would copy the damage into their output. A syntax error in the body is DAMAGED with
    its line, never the parser's "check logs". A zip is unpacked and its member checked the same
    way (problems name the zip and the member).

    `lazy` indexes the file in one quick pass and parses an entity's attributes when first read
    (about half the time of a full open for readers that touch a fraction of the model, such as
    the loader); writers open in full. A zip member is always opened in full (it lives in a
    temporary directory only while it is parsed)."""
    p = Path(path)
    t0 = time.perf_counter()
    try:
        if not is_zip(p):
            return _open_spf(p, p, allow_partial=allow_partial, lazy=lazy, t0=t0)
        member = zip_member(p)
        with tempfile.TemporaryDirectory(prefix="ct-ifczip-") as tmp:
            with zipfile.ZipFile(p) as zf:
                inner = Path(zf.extract(member, tmp))
            try:
                return _open_spf(inner, p, allow_partial=allow_partial, lazy=False, t0=t0)
            except IfcFileError as exc:
                raise _in_member(exc, p, member) from None
    except IfcFileError:
        raise
    except Exception as exc:  # anything else a reader raises for a bad file is this file's problem
        raise _problem(p, None, UNREADABLE, f"cannot read: {type(exc).__name__}: {exc}") from None


def _open_spf(p: Path, label: Path, *, allow_partial: bool, lazy: bool, t0: float) -> OpenedIfc:
    schema, problem = check_file(p)
    if problem is not None and label != p:
        reason = f"in zip member {p.name!r}: {problem.reason}"
        problem = IfcFileProblem(str(label), problem.schema, problem.kind, reason)
    partial_ok = allow_partial and problem is not None and problem.kind in PARTIAL_KINDS
    if problem is not None and problem.kind != BROKEN_REFERENCES and not partial_ok:
        raise IfcFileError(problem)
    # a body with lost entities is parsed even when it is to be refused: a syntax error, if there
    # is one, says where the damage is; the first dangling reference may be far from it
    ifcopenshell.get_log()  # drop older entries: the log of this open names the broken line
    try:
        f = bare_open(p, lazy=lazy)
    except ifcopenshell.SchemaError as exc:
        raise _problem(
            label, schema, UNSUPPORTED_SCHEMA, f"schema not supported by ifcopenshell: {exc}"
        ) from None
    except (OSError, RuntimeError, ifcopenshell.Error) as exc:
        raise _parse_failure(p, schema, exc, ifcopenshell.get_log(), label) from None
    if problem is not None and not partial_ok:
        raise IfcFileError(problem)
    if not f.by_type("IfcProject") and not f.by_type("IfcRoot"):
        if problem is not None:
            raise IfcFileError(problem)
        raise _problem(label, f.schema, EMPTY, "no entities in the DATA section (header only)")
    return OpenedIfc(f, str(label), f.schema, time.perf_counter() - t0, problem)


def _parse_failure(
    p: Path, schema: str | None, exc: Exception, log: str, label: Path | None = None
) -> IfcFileError:
    """The parser's exception as a problem naming the line where parsing failed, when its log
    has the byte offset (ifcopenshell: "token X at offset N invalid")."""
    m = _OFFSET_RE.search(log or "")
    if m is None:
        return _problem(label or p, schema, UNREADABLE, f"cannot parse: {exc}")
    line = _line_at(p, int(m.group(2)))
    return _problem(
        label or p,
        schema,
        DAMAGED,
        f"body damaged: parsing failed on line {line} (byte {m.group(2)}, at {m.group(1)!r}); "
        "part of the file is lost or garbled, re-export or re-upload it",
    )
