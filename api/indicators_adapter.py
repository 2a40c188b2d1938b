"""Adapter to `twin.indicators` (filled in when that module lands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.errors import ApiError
from api.schemas import IndicatorOut
from twin.model import Campus

if TYPE_CHECKING:
    from api.state import AppState


def compute(state: AppState, campus: Campus, now: int) -> list[IndicatorOut]:
    raise ApiError(503, "indicators module (twin.indicators) is not available in this build")
