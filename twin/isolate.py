"""Read an IFC file in a child process, so a native crash of the IFC library ends only the child.

ifcopenshell is C++: a damaged file (a 100 MB export with colliding entity ids, say) can make it
segfault, which no `except` catches — the command or the API server that asked would die with
it. Heavy files (`ISOLATE_MIN_BYTES` and up) and files the server has not read before are
therefore read by `run_isolated`: the child does the whole read (open, model, plans) and sends
the picklable result back; a child that dies becomes a CRASHED `IfcFileProblem` for that file
and the caller goes on with the others. Small files stay in-process (a fork costs a few ms, but
the result is pickled across).

`CT_CRASH_IFC` (tests only): a child reading a file whose path contains this text kills itself
with SIGSEGV first — the stand-in for a file that crashes ifcopenshell natively.
"""

from __future__ import annotations

import faulthandler
import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from twin.ifc_open import CRASHED, IfcFileError, IfcFileProblem

T = TypeVar("T")

ISOLATE_MIN_BYTES = 32 * 1024 * 1024
CRASH_ENV = "CT_CRASH_IFC"


def heavy(path: str | Path) -> bool:
    """A file big enough to be read in a child process when the caller lets size decide."""
    try:
        return Path(path).stat().st_size >= ISOLATE_MIN_BYTES
    except OSError:
        return False


def _child(conn: Connection, label: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    stand_in = os.environ.get(CRASH_ENV)
    if stand_in and stand_in in label:
        faulthandler.disable()  # a stand-in: no fatal-error dump (pytest enables one) in the output
        os.kill(os.getpid(), signal.SIGSEGV)
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as exc:  # sent back whole: the parent raises it as if in-process
        try:
            conn.send(("error", exc))
        except Exception:  # an exception that does not pickle: its text is enough
            conn.send(("error", RuntimeError("".join(traceback.format_exception_only(exc)).strip())))
    finally:
        conn.close()


def _signal_name(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def time_limit_s(path: str | Path) -> float:
    """How long a child may read a file: generous (a 113 MB model loads in about a minute)."""
    try:
        size_mb = Path(path).stat().st_size / 1e6
    except OSError:
        size_mb = 0.0
    return 120.0 + 10.0 * size_mb


def run_isolated(label: str, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a forked child; its exceptions are re-raised here, a child that dies
    without answering (or hangs past `time_limit_s`) raises `IfcFileError` (kind CRASHED)
    naming `label` (the file)."""
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, label, fn, args), daemon=True)
    proc.start()
    send.close()
    limit = time_limit_s(label)
    status: str = "crashed"
    value: Any = None
    try:
        if recv.poll(limit):
            status, value = recv.recv()  # before join: a large result would fill the pipe otherwise
        else:
            status = "hung"
            proc.kill()
    except (EOFError, OSError):
        pass
    finally:
        recv.close()
        proc.join()
    if status == "ok":
        return value
    if status == "error":
        raise value
    why = f"did not finish within {limit:.0f} s" if status == "hung" else _signal_name(proc.exitcode)
    raise IfcFileError(
        IfcFileProblem(
            label,
            None,
            CRASHED,
            f"reading this file crashed the IFC library ({why}); it was read in "
            "a separate process, so only this file is skipped: re-export it, or check it with another viewer",
        )
    )
