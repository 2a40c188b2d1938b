"""Where a point measures (desk plane, blackboard, wall, ceiling, outdoor), as data.

Order: the binding's role (binding file, else the device profile's default that the generator
writes into the IfcSensor), passed in as `declared`; only then `roles.yaml`, which maps
device/point ids (globs, first match wins) to a role as the last fallback. GB 7793 rules judge only desk and
blackboard points, so a wall monitor's or a ceiling PIR's lux is never taken for the desk plane.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.yamlio import load_model
from twin.standards.schema import Role

DEFAULT_ROLES = Path(__file__).with_name("roles.yaml")


class RoleRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    device: str = Field(default="*", description="glob on the device id")
    point: str = Field(default="*", description="glob on the point id")
    quantity: str = Field(default="*", description="glob on the quantity")
    role: Role


class RolesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = 1
    rules: list[RoleRule] = Field(default_factory=list)

    def role_of(self, device: str, point: str, quantity: str, declared: str | None = None) -> str | None:
        if declared:
            return declared
        d, p = device.lower(), point.lower()
        for r in self.rules:
            if (
                fnmatchcase(d, r.device.lower())
                and fnmatchcase(p, r.point.lower())
                and fnmatchcase(quantity, r.quantity)
            ):
                return r.role
        return None


@cache
def _load(path: str) -> RolesFile:
    return load_model(RolesFile, path)


def load_roles(path: str | Path | None = None) -> RolesFile:
    return _load(str(path or DEFAULT_ROLES))
