"""Every folder under tests/cases/ is a valid case (README of one line, an expected* file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cases import CASES_DIR, case_problems, load_cases


def _case_dirs() -> list[Path]:
    return sorted(
        case
        for area in CASES_DIR.iterdir()
        if area.is_dir() and not area.name.startswith((".", "_"))
        for case in area.iterdir()
        if case.is_dir() and not case.name.startswith((".", "_"))
    )


def test_every_case_folder_is_complete() -> None:
    problems = [p for d in _case_dirs() for p in case_problems(d)]
    assert not problems, "\n".join(problems)


def test_the_loader_rejects_an_incomplete_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.support.cases as cases

    case = tmp_path / "area" / "two-line-readme"
    case.mkdir(parents=True)
    (case / "README.md").write_text("first line\nsecond line\n", encoding="utf-8")
    (case / "input.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(cases, "CASES_DIR", tmp_path)
    with pytest.raises(AssertionError, match=r"expected one line, found 2.*no expected\* file"):
        load_cases("area")
    (case / "README.md").write_text("A gateway sends an empty JSON object.\n", encoding="utf-8")
    (case / "expected.json").write_text("{}", encoding="utf-8")
    (loaded,) = load_cases("area")
    assert loaded.summary == "A gateway sends an empty JSON object." and loaded.json("expected.json") == {}
    (case / "README.md").unlink()  # a case without its README is refused, not skipped
    with pytest.raises(AssertionError, match=r"two-line-readme: no README.md"):
        load_cases("area")
