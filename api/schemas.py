"""Response and error models: what the OpenAPI schema (and a generated client) sees."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from api.binding_audit import BindingAuditOut
from contract.sensor_roles import SensorRole

T = TypeVar("T")


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorOut(BaseModel):
    """Every 4xx/5xx body: a stable code, a message for people, and the fields at fault."""

    error: str = Field(description="machine code, e.g. not_found, unauthorized, invalid_request")
    detail: str
    fields: list[FieldProblem] = Field(default_factory=list)


class Label(BaseModel):
    zh: str
    en: str


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class HealthOut(BaseModel):
    status: Literal["ok"]
    version: str
    campuses: int
    rooms: int
    time: datetime


class CampusOut(BaseModel):
    id: str
    name: str
    buildings: int
    rooms: int
    problems: int


class BuildingOut(BaseModel):
    id: str
    campus: str
    name: str | None
    storeys: int
    rooms: int


class StoreyOut(BaseModel):
    id: str
    campus: str
    building: str
    name: str | None
    elevation_m: float | None
    rooms: int


class RoomOut(BaseModel):
    id: str = Field(description="IfcSpace GlobalId")
    number: str
    name: str | None = Field(description="IFC LongName, e.g. 智慧教室")
    campus: str
    building: str
    storey: str | None
    type: str | None
    type_label: Label | None
    area_m2: float | None
    volume_m3: float | None
    height_m: float | None
    devices: list[str] = Field(description="ids of devices bound to this room")


class RoomItem(RoomOut):
    matched: dict[str, float] | None = Field(
        default=None, description="latest values that satisfied the condition (when one was given)"
    )


class ValueOut(BaseModel):
    quantity: str
    label: Label
    unit: str
    value: float | None
    time: datetime
    age_s: float
    stale: bool
    quality: str
    reason: str | None
    device: str
    point: str


VerdictStatus = Literal[
    "compliant", "non_compliant", "not_applicable", "insufficient_data", "no_sensor", "no_calendar"
]
STATUS_DESCRIPTION = (
    "compliant | non_compliant | not_applicable (reason: not in class, holiday, out of season …) | "
    "insufficient_data | no_sensor (no sensor of the role the rule needs) | "
    "no_calendar (the day is beyond the campus's school calendar)"
)


class BreachOut(BaseModel):
    rule: str = Field(description="rule id in the standards file")
    standard: str
    clause: str
    quantity: str
    measured: float
    limit: float | list[float] = Field(description="the limit, or [low, high] for a range")
    unit: str
    label: Label = Field(description="the rule's requirement in words")


class VerdictOut(BaseModel):
    quantity: str
    label: Label
    rule: str = Field(description="rule id in the standards file")
    rule_label: Label
    status: VerdictStatus = Field(description=STATUS_DESCRIPTION)
    reason: Label | None = Field(description="the breach in words, or why there is no verdict")
    measured: float | None = Field(description="the judged window's value (worst window over a period)")
    limit: float | list[float]
    unit: str
    share: float | None = Field(description="compliant share of the applicable time judged, or null")
    value: float | None = Field(description="the value shown: measured, else the latest reading")
    basis: str = Field(description="what was judged: 'latest reading', 'running 1h window' …")
    requirement: str = Field(description="the limit as text, e.g. '<= 1000 ppm'")
    standard: str = Field(description="standard code, e.g. GB/T 18883-2022")
    clause: str
    device: str
    point: str


class RoomStatusOut(BaseModel):
    room: RoomOut
    time: datetime = Field(description="server time the status refers to")
    occupied: bool | None
    occupancy_source: str | None = Field(description="sensor, timetable or None (unknown)")
    status: VerdictStatus = Field(
        description="the room's status: any breach, else any compliant rule, else why not"
    )
    reason: Label | None = Field(description="the worst breach in words, or the n/a reason")
    breaches: list[BreachOut]
    values: list[ValueOut]
    verdicts: list[VerdictOut]
    compliance: Literal["ok", "fail", "unknown"] = Field(
        description="deprecated: `status` as ok/fail/unknown"
    )


class HistoryPoint(BaseModel):
    time: datetime
    value: float | None
    count: int


class HistorySeries(BaseModel):
    device: str
    point: str
    quantity: str
    unit: str
    points: list[HistoryPoint]


class HistoryOut(BaseModel):
    room: str
    quantity: str
    label: Label
    start: datetime
    end: datetime
    every_s: float | None
    agg: str
    series: list[HistorySeries]


class AlertRuleOut(BaseModel):
    rule: str
    standard: str
    clause: str
    requirement: str
    label: Label


class AlertOut(BaseModel):
    """One breach episode of a room and quantity, listing every rule it breaks."""

    room: str
    room_number: str
    campus: str
    building: str
    quantity: str
    label: Label
    device: str
    point: str
    rules: list[AlertRuleOut] = Field(description="every rule the episode breaks")
    rule: str = Field(description="the first rule broken (see `rules`)")
    requirement: str
    standard: str
    clause: str | None
    start: datetime = Field(description="campus local time")
    end: datetime | None = Field(description="None while the breach is still going on")
    worst: float | None
    unit: str
    severity: Literal["warning", "severe"] = Field(description="severe: worst ≥ 50 % past the limit")


class DeviceOut(BaseModel):
    site: str
    id: str
    room: str | None
    room_number: str | None
    agent: str | None
    last_seen: datetime | None
    age_s: float | None
    stale: bool
    quality: str | None
    reason: str | None
    points: list[str]


class AgentOut(BaseModel):
    site: str
    id: str
    state: Literal["online", "offline", "health", "unknown"]
    last_seen: datetime | None = Field(description="newest reading stored from this agent")
    status_time: datetime | None = Field(description="time of the agent's last status/health message")
    queue_depth: int | None
    oldest_unsent_age_s: float | None
    dropped_total: int | None
    quarantined_total: int | None
    devices: int


class PlanLabel(BaseModel):
    """Where a room's label fits: centre and free width/height (m), from twin.plan_labels."""

    x: float
    y: float
    w: float
    h: float


class FloorRoom(BaseModel):
    id: str
    number: str
    name: str | None
    type: str | None
    type_label: Label | None
    polygon: list[tuple[float, float]]
    devices: list[str] = Field(default_factory=list, description="ids of the devices in this room")
    label: PlanLabel | None = Field(default=None, description="the room's free box for its label")


class FloorplanOut(BaseModel):
    storey: str
    building: str
    campus: str
    name: str | None
    bounds: tuple[float, float, float, float] = Field(description="min x, min y, max x, max y (m)")
    rooms: list[FloorRoom]


class LiveRoom(BaseModel):
    id: str
    value: float | None
    stale: bool
    status: VerdictStatus = Field(description=STATUS_DESCRIPTION)
    reason: Label | None = Field(default=None, description="the breach in words, or why no verdict")


class StoreyLiveOut(BaseModel):
    storey: str
    quantity: str | None
    label: Label | None
    unit: str | None
    limit: float | list[float] | None = Field(
        default=None,
        description="the limit a plan coloured by `quantity` marks ([low, high] for a range): the first "
        "rule of the quantity in season for the storey's most common room type; null: none applies",
    )
    time: datetime
    rooms: list[LiveRoom]


class QuantityOut(BaseModel):
    quantity: str
    label: Label
    unit: str
    decimals: int | None = Field(default=None, description="display decimals from the catalogue's resolution")


class IndicatorOut(BaseModel):
    id: str
    label: Label
    value: float | None
    unit: str | None
    target: float | None = None
    target_year: int | None = None
    expected_now: float | None = Field(default=None, description="where the path to the target is this year")
    on_track: bool | None = None


class IndicatorsOut(BaseModel):
    campus: str
    time: datetime
    start: datetime
    end: datetime
    indicators: list[IndicatorOut]


class FileProblemOut(BaseModel):
    """An IFC file the twin could not (fully) load: the rest of the campus still loads."""

    file: str
    kind: str  # twin.ifc_open kind: "truncated", "damaged", "unresolved_references", "not_ifc" …
    ifc_schema: str | None = None  # the schema the file declares, when it declares one
    message: str


class ReloadOut(BaseModel):
    campuses: int
    rooms: int
    bindings: int
    series: int
    problems: list[FileProblemOut] = []


class RebindIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room: str = Field(min_length=1, max_length=64, description="IfcSpace GlobalId or room number")
    point: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
    role: SensorRole | None = Field(
        default=None,
        description="where the sensor measures (desk, blackboard, wall …); default: as bound before",
    )


class BindingOut(BaseModel):
    site: str
    device: str
    point: str | None
    room: str
    room_number: str
    source: str
    role: SensorRole | None = None
    audit: BindingAuditOut | None = Field(default=None, description="the audit line of this rebinding")


class UnboundDeviceOut(BaseModel):
    site: str
    id: str
    points: list[str] = Field(description="the points reporting without a room")
    quantities: list[str]
    agent: str | None
    last_seen: datetime | None
    age_s: float | None
    stale: bool
