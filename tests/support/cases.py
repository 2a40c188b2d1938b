"""The one loader for data-driven regression cases: `tests/cases/<area>/<case>/`.

A case is a folder holding its input files, its expected output (files named `expected*`, or
`expect:` keys inline in a YAML case file) and a one-line `README.md` saying which real-world
situation it pins. An area's test parametrises over
`case_params("<area>")`; adding a regression is adding a folder, not code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contract.yamlio import load_yaml

CASES_DIR = Path(__file__).resolve().parent.parent / "cases"
_EXPECT_KEY = re.compile(r"(^|[\s{,])expect(ed)?\s*:", re.M)


@dataclass(frozen=True)
class Case:
    area: str
    name: str
    dir: Path
    summary: str  # the README's one line

    def path(self, name: str) -> Path:
        p = self.dir / name
        if not p.is_file():
            have = sorted(f.name for f in self.dir.iterdir())
            raise AssertionError(f"case {self.area}/{self.name} has no {name} (has: {', '.join(have)})")
        return p

    def text(self, name: str) -> str:
        return self.path(name).read_text(encoding="utf-8")

    def json(self, name: str) -> Any:
        return json.loads(self.text(name))

    def yaml(self, name: str) -> Any:
        """Plain data, through contract.yamlio so errors name file:line:col."""
        return load_yaml(self.path(name))

    def has(self, name: str) -> bool:
        return (self.dir / name).is_file()


def case_problems(case_dir: Path) -> list[str]:
    """What makes a folder not a valid case (empty list: valid)."""
    readme = case_dir / "README.md"
    if not readme.is_file():
        return [f"{case_dir}: no README.md (one line: the real-world situation this case pins)"]
    lines = [line for line in readme.read_text(encoding="utf-8").splitlines() if line.strip()]
    problems = []
    if len(lines) != 1:
        problems.append(f"{readme}: expected one line, found {len(lines)}")
    if not _has_expected(case_dir):
        problems.append(
            f"{case_dir}: no expected* file and no `expect:` in a YAML input (the output it pins)"
        )
    return problems


def _has_expected(case_dir: Path) -> bool:
    """An `expected*` file, or expectations inline in a YAML case file (`expect:`/`expected:`)."""
    for f in case_dir.iterdir():
        if f.name.startswith("expected"):
            return True
        if f.suffix in (".yaml", ".yml") and _EXPECT_KEY.search(f.read_text(encoding="utf-8")):
            return True
    return False


def load_cases(area: str) -> list[Case]:
    """Every case of an area, sorted by name; an invalid case folder fails loudly."""
    root = CASES_DIR / area
    if not root.is_dir():
        raise AssertionError(f"no case area {root}")
    cases = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        problems = case_problems(d)
        if problems:
            raise AssertionError("; ".join(problems))
        summary = (d / "README.md").read_text(encoding="utf-8").strip()
        cases.append(Case(area=area, name=d.name, dir=d, summary=summary))
    if not cases:
        raise AssertionError(f"case area {root} has no cases")
    return cases


def case_params(area: str) -> list[Any]:
    """`@pytest.mark.parametrize("case", case_params("mqtt"))`: one test id per case folder."""
    return [pytest.param(c, id=c.name) for c in load_cases(area)]
