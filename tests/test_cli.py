import subprocess
import sys

import pytest

from campus_twin.cli import build_parser

# starts Modbus/TCP servers or the CLI as a process: not part of the fast unit subset
pytestmark = pytest.mark.integration

GROUPS = ["agent", "ingest", "twin", "report", "api", "sim", "demo", "bench"]


def test_help_lists_every_layer() -> None:
    text = build_parser().format_help()
    for g in GROUPS:
        assert g in text


def test_console_script_help_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "campus_twin.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "agent" in out.stdout and "twin" in out.stdout


SUBCOMMANDS = {
    "agent": ["run", "check", "plan", "probe"],
    "ingest": ["run", "check"],
    "quarantine": ["show", "count"],
    "twin": ["generate", "inspect", "bind", "export", "plans"],
    "api": ["serve", "hash-token", "token"],
    "sim": ["run", "faults"],
}


def test_each_group_help_lists_its_subcommands() -> None:
    for group, subs in SUBCOMMANDS.items():
        out = subprocess.run(
            [sys.executable, "-m", "campus_twin.cli", group, "--help"],
            capture_output=True,
            text=True,
            check=True,
        )
        for s in subs:
            assert s in out.stdout, (group, s, out.stdout)


def test_group_without_subcommand_shows_help_and_fails() -> None:
    res = subprocess.run([sys.executable, "-m", "campus_twin.cli", "twin"], capture_output=True, text=True)
    assert res.returncode == 2 and "inspect" in res.stdout
