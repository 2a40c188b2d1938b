"""Classroom environment standards as data (standards.yaml) and their one evaluation engine.

`load_standards()` reads the bundled file (or another path) through `contract.yamlio`, so a
bad edit reports `file:line:col: field …`. `twin.standards.engine.Engine` is what every
consumer calls (report, live state, API status and alerts, `campus-twin standards check`).
"""

from __future__ import annotations

from pathlib import Path

from contract.yamlio import load_model
from twin.standards.schema import Rule, StandardsFile

DEFAULT_STANDARDS = Path(__file__).with_name("standards.yaml")

__all__ = ["DEFAULT_STANDARDS", "Rule", "StandardsFile", "load_standards"]


def load_standards(path: str | Path | None = None) -> StandardsFile:
    return load_model(StandardsFile, path or DEFAULT_STANDARDS)
