"""Per-campus settings of the standards engine, from the twin config (`campuses[].standards`).

A district's schools differ in climate zone (a Shenzhen school has summer ranges most of the
year, a Beijing one does not), in bell schedule (小学/初中/高中) and in calendar (a district's
holidays, a school's 调休). Each campus may set these; what it leaves out keeps the shipped
defaults (standards.yaml's climate zone, the school-time file's default bell and calendar).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from contract.school_time import SchoolCalendar, SchoolTime, load_calendar, load_school_time
from twin.standards import load_standards
from twin.standards.engine import Engine
from twin.standards.schema import StandardsFile


class CampusStandards(BaseModel):
    """`standards:` of one campus in the twin config (paths relative to the config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    climate_zone: str | None = Field(
        default=None, description="GB 50176 zone key of standards.yaml (seasons); default: the file's"
    )
    school_level: str | None = Field(
        default=None,
        description="school level for the bell (primary, junior, senior …); default bell if absent",
    )
    calendar: Path | None = Field(default=None, description="school calendar YAML (terms, holidays, 调休)")
    timetable: Path | None = Field(
        default=None, description="school-time YAML (bells, room use); default: shipped"
    )

    def resolved(self, base: Path) -> CampusStandards:
        """Relative paths made absolute against the config's directory."""

        def res(p: Path | None) -> Path | None:
            return p if p is None or p.is_absolute() else base / p

        return self.model_copy(update={"calendar": res(self.calendar), "timetable": res(self.timetable)})


def campus_engine(
    settings: CampusStandards | None,
    standards: StandardsFile | None = None,
    school: SchoolTime | None = None,
    *,
    campus: str = "",
) -> Engine:
    """The engine for one campus: the given (or shipped) standards and school time with the
    campus's climate zone, bell level and calendar applied. Raises ValueError naming an unknown
    climate zone, ConfigError (file:line) for a bad calendar/timetable file."""
    standards = standards or load_standards()
    if settings is None:
        return Engine(standards, school, campus=campus)
    if settings.climate_zone is not None and settings.climate_zone != standards.climate_zone:
        if settings.climate_zone not in standards.climate_zones:
            raise ValueError(
                f"standards.climate_zone: {settings.climate_zone!r} is not one of {sorted(standards.climate_zones)}"
            )
        standards = standards.model_copy(update={"climate_zone": settings.climate_zone})
    if settings.timetable is not None:
        school = load_school_time(settings.timetable)
    if settings.calendar is not None:
        calendar = load_calendar(settings.calendar)
        school = (school or load_school_time()).model_copy(update={"calendar": calendar})
    return Engine(standards, school, level=settings.school_level, campus=campus)


@lru_cache(maxsize=256)
def campus_calendar(settings: CampusStandards | None) -> SchoolCalendar:
    """The school calendar a campus is judged with (its own file, its timetable's, or the
    shipped one): what `/metrics` and the UI watch for its end."""
    if settings is not None and settings.calendar is not None:
        return load_calendar(settings.calendar)
    if settings is not None and settings.timetable is not None:
        return load_school_time(settings.timetable).calendar
    return load_school_time().calendar
