"""`campus-twin report …`: indicator reports for the district (XLSX, CSV, JSON, HTML)."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="Indicator report for a period (format from --out extension).")
    p.set_defaults(func=None, _parser=p)
