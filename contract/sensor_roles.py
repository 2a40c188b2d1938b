"""Where a point measures: the one vocabulary of sensor roles.

A role is declared by a binding (device or point), else by the device profile's default for
the point, else inferred from the device/point name (twin/standards/roles.yaml, last resort).
GB 7793 lighting rules judge only `desk` and `blackboard` points; `outdoor` points are never
judged as a room's indoor environment.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

SensorRole = Literal["desk", "blackboard", "wall", "ceiling", "outdoor"]
SENSOR_ROLES: Final[tuple[SensorRole, ...]] = get_args(SensorRole)
