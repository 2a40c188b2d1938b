"""Every program the tests start is in the install script's one table, and a machine without one
fails the test run at once, naming it and its Debian package."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.system_programs import SCRIPT, Program, missing, programs, report

REPO = Path(__file__).resolve().parent.parent
# interpreters and coreutils the base image has; everything else a test starts is in the table
BASE = {"git", "tar", "sh", "bash", "python", "python3", "env", "kill", "true", "sleep"}
STARTERS = {"Popen", "run", "check_output", "check_call", "call", "create_subprocess_exec", "which"}


def _started_programs() -> dict[str, str]:
    """Program names given as a literal first argument to a process starter, a `which` or
    `find_binary`, in tests/, campus_twin/ and bench/: name -> first place seen."""
    seen: dict[str, str] = {}
    for root in ("tests", "campus_twin", "bench"):
        for path in sorted((REPO / root).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
                first: ast.expr | None = None
                if name in STARTERS - {"which", "create_subprocess_exec"}:
                    arg = node.args[0]
                    if isinstance(arg, (ast.List, ast.Tuple)) and arg.elts:
                        first = arg.elts[0]
                elif name in {"which", "create_subprocess_exec", "find_binary", "Service"}:
                    first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    prog = first.value.rsplit("/", 1)[-1] if first.value.startswith("/usr/") else first.value
                    if prog and "/" not in prog and " " not in prog:
                        seen.setdefault(prog, f"{path.relative_to(REPO)}:{node.lineno}")
    return seen


@pytest.mark.slow  # scans every file of tests/, campus_twin/, bench/
def test_every_started_program_is_in_the_install_table() -> None:
    table = {p.name for p in programs()}
    started = _started_programs()
    assert "socat" in started and "mosquitto" in started, "the scan no longer sees the known starters"
    unlisted = {p: where for p, where in started.items() if p not in table | BASE}
    assert not unlisted, f"programs started but not installed by {SCRIPT.name}: {unlisted}"


def test_the_table_parses_and_names_a_package_for_each_program() -> None:
    table = programs()
    assert {"mosquitto", "influxd", "victoria-metrics", "chromium", "chromedriver", "socat"} <= {
        p.name for p in table
    }
    assert all(p.package and p.why for p in table)


def test_a_missing_program_is_reported_with_its_package(tmp_path: Path) -> None:
    fake = [Program("ct-no-such-program", "ct-pkg", (), "a test"), Program("python3", "python3", (), "x")]
    absent = missing(path=str(tmp_path), table=fake)
    assert [p.name for p in absent] == ["ct-no-such-program", "python3"]
    text = report(absent[:1])
    assert (
        "ct-no-such-program" in text and "Debian package ct-pkg" in text and "apt-get install ct-pkg" in text
    )


@pytest.mark.integration
def test_a_run_without_socat_fails_in_the_first_second_naming_it(tmp_path: Path) -> None:
    """A machine where everything but socat is installed: the integration run stops before
    collecting, exit 3, naming socat and its package."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for prog in programs():
        if prog.name.startswith("/") or prog.name == "socat":
            continue
        found = shutil.which(prog.name) or next((a for a in prog.also_at if os.path.exists(a)), None)
        assert found, f"{prog.name} must be installed for this test (make system-deps)"
        (bindir / prog.name).symlink_to(found)
    env = {**os.environ, "PATH": str(bindir)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "integration", "-p", "no:cacheprovider", "tests/test_cli.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 3, out
    assert "socat" in out and "Debian package socat" in out, out
    assert "chromium " not in out.split("not installed:")[1], "only the missing program is named"
    # before collection (no module imported, no test counted): the first second on a quiet
    # machine, whatever the load (a wall-clock bound here would only measure the load)
    assert "collected" not in out and "passed" not in out, out
