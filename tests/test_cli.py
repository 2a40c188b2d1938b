import subprocess
import sys

from campus_twin.cli import build_parser

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
