"""Paths shared by twin tests (importable helper module, not a test)."""

from pathlib import Path

DEMO_SPEC_PATH = Path(__file__).resolve().parents[2] / "examples" / "campus" / "demo-campus.yaml"
