"""Which device profiles the agent can use, and why a name is unknown.

Search path: the built-in library, then the config's `profile_dirs`, then `--profiles DIR`
from the command line. A broken profile file that no configured device uses is a warning,
not an error: a half-written profile in the folder must not stop a gateway from starting
(the systemd unit runs `agent check` before `agent run`). A device whose profile is
missing or broken is an error that lists the search path, the known names and the broken files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from contract.yamlio import ConfigError
from device_profiles.loader import LIBRARY_DIR, load_profile
from device_profiles.schema import DeviceProfile


@dataclass
class ProfileSet:
    dirs: list[Path]
    profiles: dict[str, DeviceProfile] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # broken files, missing folders, duplicates

    def unknown(self, device: str, name: str) -> str:
        """The error for a device naming a profile that is not loaded, with what would help."""
        lines = [
            f"device {device!r}: unknown profile {name!r}",
            "  searched: " + ", ".join(str(d) for d in self.dirs),
            "  known: " + (", ".join(sorted(self.profiles)) or "none"),
        ]
        if self.problems:
            lines.append("  not loaded (broken):")
            lines += [f"    {p}" for p in self.problems]
        return "\n".join(lines)

    def missing(self, wanted: Iterable[tuple[str, str]]) -> list[str]:
        """Errors for each (device, profile) whose profile is not loaded."""
        return [self.unknown(dev, name) for dev, name in wanted if name not in self.profiles]


def search_dirs(config_dirs: Sequence[Path], extra: Sequence[str | Path] = ()) -> list[Path]:
    return [LIBRARY_DIR, *config_dirs, *(Path(d) for d in extra)]


def load_profiles(dirs: Sequence[Path]) -> ProfileSet:
    """Every loadable profile in `dirs`; broken files become `problems`, never an exception."""
    out = ProfileSet(list(dirs))
    origin: dict[str, Path] = {}
    for folder in dirs:
        if not folder.is_dir():
            out.problems.append(f"{folder}: profile directory not found")
            continue
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            try:
                profile = load_profile(path)
            except ConfigError as exc:
                out.problems.extend(exc.problems)
                continue
            if profile.name in out.profiles:
                out.problems.append(
                    f"{path}: profile name {profile.name!r} is already defined in {origin[profile.name]}"
                )
                continue
            out.profiles[profile.name] = profile
            origin[profile.name] = path
    return out
