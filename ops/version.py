"""The one version string: the installed distribution's metadata (pyproject `version`).

The CLI (`campus-twin --version`), the API (`/health`, OpenAPI) and the agent's birth message
used to carry three hard-coded strings that had drifted (1.0.0 vs 0.1.0).
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "campus-twin"


@cache
def package_version() -> str:
    """`0+unknown` when run from a source tree that was never installed (no metadata)."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0+unknown"
