"""Load profiles from YAML with errors a technician can act on (file:line:col, field).

The built-in library lives in `device_profiles/library/`; campuses add their own directory
of YAML files (one model per file) and the loader merges them, refusing two files that
claim the same profile name.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from contract.yamlio import ConfigError, load_yaml, locate, to_plain, validation_problems
from device_profiles.schema import DeviceProfile, check_points

LIBRARY_DIR = Path(__file__).resolve().parent / "library"


def load_profile(path: str | Path) -> DeviceProfile:
    """One profile file. Raises ConfigError naming file:line:col and the field."""
    name = str(path)
    doc = load_yaml(path)
    if doc is None:
        raise ConfigError(name, [f"{name}: file is empty"])
    try:
        profile = DeviceProfile.model_validate(to_plain(doc), context={"defer_point_checks": True})
    except ValidationError as exc:
        raise ConfigError(name, validation_problems(name, doc, exc)) from None
    problems = []
    for index, field, message in check_points(profile):
        pos = locate(doc, ["points", index, field])
        where = f"{name}:{pos[0]}:{pos[1]}" if pos else name
        problems.append(f"{where}: field points[{index}].{field}: {message}")
    if problems:
        raise ConfigError(name, problems)
    return profile


def load_library(dirs: Iterable[str | Path] | None = None) -> dict[str, DeviceProfile]:
    """All `*.yaml`/`*.yml` profiles in `dirs` (default: the built-in library), by name.

    Every broken file is reported, not only the first."""
    folders = [LIBRARY_DIR] if dirs is None else [Path(d) for d in dirs]
    profiles: dict[str, DeviceProfile] = {}
    origin: dict[str, Path] = {}
    problems: list[str] = []
    for folder in folders:
        if not folder.is_dir():
            problems.append(f"{folder}: profile directory not found")
            continue
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            try:
                profile = load_profile(path)
            except ConfigError as exc:
                problems.extend(exc.problems)
                continue
            if profile.name in profiles:
                problems.append(
                    f"{path}: profile name {profile.name!r} is already defined in {origin[profile.name]}"
                )
                continue
            profiles[profile.name] = profile
            origin[profile.name] = path
    if problems:
        raise ConfigError(", ".join(str(f) for f in folders), problems)
    return profiles
