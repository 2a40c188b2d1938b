"""The twin config: which campuses exist, their IFC files, binding files and per-room overrides.

`load_twin(path)` is the one call the API makes: it returns fully prepared campuses (rooms
typed, sensors bound, problems listed). Relative paths in the YAML are relative to the YAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.telemetry import Ident
from contract.yamlio import ConfigError, load_model
from twin.ifc_loader import Progress, load_campus
from twin.model import Campus, Problem
from twin.standards.settings import CampusStandards


class CampusConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Ident = Field(description="telemetry site id")
    name: str
    ifc: list[str] = Field(min_length=1, description="IFC files, typically one per building")
    bindings: str | None = Field(default=None, description="binding file (YAML), optional")
    devices: str | None = Field(
        default=None, description="device list for validation: a campus spec or a list of ids"
    )
    overrides: dict[str, str] = Field(default_factory=dict, description="room number → room type key")
    standards: CampusStandards | None = Field(
        default=None, description="standards engine settings: climate_zone, school_level, calendar, timetable"
    )


class TwinConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campuses: list[CampusConfig] = Field(min_length=1)
    room_types: str | None = Field(default=None, description="room type rules; default: the shipped rules")
    cache_dir: str | None = Field(
        default=None, description="floor-plan cache; default: .twin-cache beside the config"
    )
    read_in_child: Literal["unread", "large", "never"] = Field(
        default="unread",
        description="which IFC files the server reads in a child process, so a native crash of the "
        "IFC library is that file's problem: unread (not in the plan cache yet), large (32 MB and up), never",
    )

    @model_validator(mode="after")
    def _unique(self) -> TwinConfig:
        ids = [c.id for c in self.campuses]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate campus ids: {dup}")
        return self


def resolve_path(base: Path, p: str | None) -> Path | None:
    if p is None:
        return None
    path = Path(p)
    return path if path.is_absolute() else base / path


def load_config(path: str | Path) -> tuple[TwinConfig, Path]:
    """The config and the directory its relative paths are resolved against. Raises ConfigError."""
    return load_model(TwinConfig, path), Path(path).resolve().parent


def ifc_paths(cfg: CampusConfig, base: Path) -> list[Path]:
    return [p for p in (resolve_path(base, s) for s in cfg.ifc) if p is not None]


def cache_dir(cfg: TwinConfig, base: Path) -> Path:
    return resolve_path(base, cfg.cache_dir) or base / ".twin-cache"


def prepare_campus(
    cfg: CampusConfig,
    base: Path,
    rules_path: Path | None,
    progress: Progress | None,
    *,
    plans_cache: Path | None = None,
    isolate: bool | None = None,
) -> Campus:
    """One campus loaded, typed and bound. With `plans_cache`, floor plans are attached as each
    file is read (one parse per cold file; `floorplan.load_with_plans`); `isolate` reads files
    not in that cache in a child process (None: heavy files only; see `twin.isolate`)."""
    from twin.binding import bind_campus, load_device_list
    from twin.floorplan import load_with_plans
    from twin.ifc_loader import LoadedFile
    from twin.rooms import load_rules, type_rooms

    reader = None
    if plans_cache is not None:
        cache = plans_cache

        def reader(path: str) -> LoadedFile:
            return load_with_plans(path, cfg.id, cache, progress, isolate=isolate)

    campus = load_campus(cfg.id, cfg.name, ifc_paths(cfg, base), progress, reader=reader)
    rules = load_rules(rules_path)
    for msg in type_rooms(campus, rules, cfg.overrides):
        campus.problems.append(Problem("twin config", None, msg))
    devices_path = resolve_path(base, cfg.devices)
    devices = load_device_list(devices_path) if devices_path else None
    if cfg.standards is not None:
        campus.standards = cfg.standards.resolved(base)
    campus.bindings, report = bind_campus(campus, resolve_path(base, cfg.bindings), devices)
    for issue in report.issues:
        campus.problems.append(Problem(issue.where, None, f"binding {issue.severity}: {issue.message}"))
    return campus


def _check_standards(cfg: TwinConfig, path: str | Path) -> None:
    """A campus's climate zone must be one of the shipped standards' zones (ConfigError)."""
    from twin.standards import load_standards

    zones = load_standards().climate_zones
    bad = [
        f"{path}: campuses[{i}].standards.climate_zone: {c.standards.climate_zone!r} is not one of {sorted(zones)}"
        for i, c in enumerate(cfg.campuses)
        if c.standards is not None
        and c.standards.climate_zone is not None
        and c.standards.climate_zone not in zones
    ]
    if bad:
        raise ConfigError(str(path), bad)


def load_twin(
    config_path: str | Path,
    progress: Progress | None = None,
    *,
    plans: bool = False,
) -> list[Campus]:
    """Every campus of the config, loaded from IFC, rooms typed, sensors bound; with `plans`,
    floor plans attached from the config's cache dir (the API), files not read before read in a
    child process as `read_in_child` says. A file that cannot be read — or crashes the IFC library
    in its child process — is a problem of its campus; every other file and campus loads.

    Content problems (messy IFC, unknown rooms in the binding file) are in `Campus.problems`;
    a malformed config/rules/binding YAML raises `ConfigError` with file:line:col."""
    cfg, base = load_config(config_path)
    _check_standards(cfg, config_path)
    rules_path = resolve_path(base, cfg.room_types)
    cache = cache_dir(cfg, base) if plans else None
    isolate = {"unread": True, "large": None, "never": False}[cfg.read_in_child]
    return [
        prepare_campus(c, base, rules_path, progress, plans_cache=cache, isolate=isolate)
        for c in cfg.campuses
    ]
