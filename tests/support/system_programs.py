"""The external programs the test suite starts, read from the one table in
`scripts/ensure-system-packages.sh` (which installs them), and the check that they are there.

The check runs at the start of a test run that selects integration tests (tests/conftest.py), so
a machine set up by hand, without the script, fails in the first second naming the program and
its Debian package instead of erroring deep inside one fixture (`FileNotFoundError: 'socat'`).
`python -m tests.support.system_programs` runs the same check on its own.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ensure-system-packages.sh"
BEGIN, END = "# programs-begin", "# programs-end"


@dataclass(frozen=True)
class Program:
    name: str  # a command looked up on PATH, or an absolute file path
    package: str
    also_at: tuple[str, ...]
    why: str


def programs(script: Path = SCRIPT) -> list[Program]:
    """The table between the markers: `# program package also-at why…` (also-at `-` = none)."""
    lines = script.read_text(encoding="utf-8").splitlines()
    try:
        body = lines[lines.index(BEGIN) + 2 : lines.index(END)]  # skip the column heading
    except ValueError as exc:
        raise RuntimeError(f"{script}: no `{BEGIN}` … `{END}` table") from exc
    table = []
    for n, line in enumerate(body, lines.index(BEGIN) + 3):
        parts = line.lstrip("#").split(maxsplit=3)
        if len(parts) < 3:
            raise RuntimeError(f"{script}:{n}: expected `# program package also-at why`, got {line!r}")
        also = () if parts[2] == "-" else tuple(parts[2].split(","))
        table.append(Program(parts[0], parts[1], also, parts[3] if len(parts) > 3 else ""))
    return table


def is_installed(prog: Program, path: str | None = None) -> bool:
    if prog.name.startswith("/"):
        return Path(prog.name).exists()
    if shutil.which(prog.name, path=path):
        return True
    return any(os.access(alt, os.X_OK) for alt in prog.also_at)


def missing(path: str | None = None, table: list[Program] | None = None) -> list[Program]:
    """Programs of the table not found on `path` (default $PATH) nor at their other places."""
    return [p for p in (table if table is not None else programs()) if not is_installed(p, path)]


def report(absent: list[Program]) -> str:
    rows = "\n".join(f"  {p.name:<20} Debian package {p.package:<20} ({p.why})" for p in absent)
    pkgs = " ".join(sorted({p.package for p in absent}))
    return (
        "programs the tests start are not installed:\n"
        f"{rows}\n"
        f"install them with `make system-deps` (apt-get install {pkgs})"
    )


def main() -> int:
    absent = missing(os.environ.get("CT_PROGRAM_PATH"))
    if absent:
        print(report(absent), file=sys.stderr)
        return 3
    print(f"all {len(programs())} programs the tests start are installed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
