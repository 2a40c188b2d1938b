"""The device-profile schema: one YAML per device *model*, reused by every instance of it.

A profile says where each value lives (table, protocol address), how its registers are
encoded (type, byte/word order) and how to turn the raw number into the device's unit
(scale, offset). Instances (host, unit id, poll interval) live in the agent config and only
name the profile, as EdgeX device profiles do.

Addresses: Modbus PDUs carry 0-based *protocol* addresses. Manuals often print 1-based
register numbers or Modicon notation (30001 = input register 0, 40001 = holding register 0).
`address` is read as `address - address_base` (base 0 by default); a Modicon string such as
"30001" or "4x0010" is also accepted and must agree with `table`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from contract.quantities import KnownQuantity, catalogue
from contract.sensor_roles import SensorRole
from contract.telemetry import ID_PATTERN

MAX_READ_REGISTERS = 125  # Modbus spec limit for FC3/FC4
MAX_READ_BITS = 2000  # Modbus spec limit for FC1/FC2
MAX_ADDRESS = 0xFFFF


class Table(StrEnum):
    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    INPUT_REGISTER = "input_register"
    HOLDING_REGISTER = "holding_register"

    @property
    def is_bit(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE_INPUT)


class RawType(StrEnum):
    BIT = "bit"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"


# registers per value; strings depend on their length
TYPE_WORDS: dict[RawType, int] = {
    RawType.BIT: 1,
    RawType.INT16: 1,
    RawType.UINT16: 1,
    RawType.INT32: 2,
    RawType.UINT32: 2,
    RawType.INT64: 4,
    RawType.UINT64: 4,
    RawType.FLOAT32: 2,
    RawType.FLOAT64: 4,
}

# Byte order names as in most manuals, for a 32-bit value whose big-endian bytes are A B C D.
# DCBA/BADC swap the bytes inside each register; DCBA/CDAB put the low register first.
ByteOrder = Literal["ABCD", "DCBA", "BADC", "CDAB"]

_MODICON_RE = re.compile(r"^([0134])x?(\d{4,5})$")
_MODICON_TABLE = {
    "0": Table.COIL,
    "1": Table.DISCRETE_INPUT,
    "3": Table.INPUT_REGISTER,
    "4": Table.HOLDING_REGISTER,
}


def parse_modicon(text: str) -> tuple[Table, int]:
    """'30001' → (input_register, 0); '4x0010' → (holding_register, 9); '400001' → (holding, 0)."""
    m = _MODICON_RE.match(text.strip())
    if not m:
        raise ValueError(f"address {text!r} is neither an integer nor Modicon notation like 30001 or 4x0001")
    number = int(m.group(2))
    if number < 1:
        raise ValueError(f"Modicon address {text!r} must be ≥ 1 after the table digit")
    return _MODICON_TABLE[m.group(1)], number - 1


class Source(BaseModel):
    """Where the register map comes from, so a reviewer can check it against the manual."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=3)
    url: str | None = None
    section: str | None = None
    notes: str | None = None


class SerialDefaults(BaseModel):
    """Factory serial settings from the manual: a hint for the instance config and the docs."""

    model_config = ConfigDict(extra="forbid")

    baudrate: int = Field(default=9600, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    unit_id: int = Field(default=1, ge=1, le=247)


class PlanLimits(BaseModel):
    """Request-planner limits. Fussy devices reject reads over undefined registers (max_gap 0)
    or longer than their buffer (e.g. Eastron: 40 values = 80 registers per request)."""

    model_config = ConfigDict(extra="forbid")

    max_registers: int = Field(default=MAX_READ_REGISTERS, ge=1, le=MAX_READ_REGISTERS)
    max_bits: int = Field(default=MAX_READ_BITS, ge=1, le=MAX_READ_BITS)
    max_gap: int = Field(default=0, ge=0, le=MAX_READ_REGISTERS)


class Defaults(PlanLimits):
    byte_order: ByteOrder = "ABCD"
    address_base: Literal[0, 1] = 0


class Point(BaseModel):
    """One value of the device. Engineering value = raw * scale + offset, in `unit`."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=ID_PATTERN)]
    description: str | None = None
    quantity: KnownQuantity | None = Field(
        default=None,
        description=(
            "catalogue quantity (contract/quantities.yaml); None only for strings. A PIR/radar yes/no "
            "is `presence` (bool), `occupancy` is a head count (persons)"
        ),
    )
    unit: str = Field(default="", description="the device's unit, e.g. Wh; the agent normalises it")
    table: Table
    address: int | str
    address_base: Literal[0, 1] | None = Field(default=None, description="default: profile defaults")
    type: RawType = RawType.UINT16
    length: int | None = Field(default=None, ge=1, le=2 * MAX_READ_REGISTERS, description="string bytes")
    byte_order: ByteOrder | None = None
    bit: int | None = Field(default=None, ge=0, le=15, description="bit of a register (type bit)")
    scale: float = 1.0
    offset: float = 0.0
    valid_min: float | None = None
    valid_max: float | None = None
    enum: dict[int, str] | None = Field(default=None, description="raw code → label")
    resolution: float | None = Field(
        default=None, gt=0, description="value step in `unit`; default: |scale| for integer types"
    )
    role: SensorRole | None = Field(
        default=None,
        description="where this point measures as usually installed (desk, wall …); default: the profile's",
    )

    @property
    def significant_digits(self) -> int | None:
        """Decimal digits an IEEE float register carries (float32 ≈ 7, float64 ≈ 15): its values
        are rounded to that many significant digits, never to the catalogue's coarser step."""
        return {RawType.FLOAT32: 7, RawType.FLOAT64: 15}.get(self.type) if self.resolution is None else None

    @property
    def step(self) -> float | None:
        """The value's resolution in `unit`, what the agent rounds to (None: the catalogue's)."""
        if self.resolution is not None:
            return self.resolution
        if self.type in (RawType.FLOAT32, RawType.FLOAT64, RawType.STRING):
            return None
        return abs(self.scale)

    @field_validator("scale")
    @classmethod
    def _nonzero_scale(cls, v: float) -> float:
        if v == 0:
            raise ValueError("scale must not be 0")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Point:
        if isinstance(self.address, str):
            table, _ = parse_modicon(self.address)
            if table is not self.table:
                raise ValueError(
                    f"address {self.address!r} is a {table.value} in Modicon notation but table is {self.table.value}"
                )
        elif self.address < 0:
            raise ValueError("address must be ≥ 0")
        if self.table.is_bit and self.type is not RawType.BIT:
            raise ValueError(
                f"a {self.table.value} holds single bits: type must be 'bit', not {self.type.value!r}"
            )
        if self.table.is_bit and self.bit is not None:
            raise ValueError(f"'bit' selects a bit of a register; a {self.table.value} is already one bit")
        if not self.table.is_bit and self.type is RawType.BIT and self.bit is None:
            raise ValueError("type 'bit' in a register table needs 'bit' (0..15)")
        if self.bit is not None and self.type is not RawType.BIT:
            raise ValueError("'bit' is only allowed with type 'bit'")
        if self.type is RawType.STRING:
            if self.length is None:
                raise ValueError("type 'string' needs 'length' (bytes)")
        elif self.length is not None:
            raise ValueError("'length' is only allowed with type 'string'")
        if self.type is not RawType.STRING and self.quantity is None:
            raise ValueError("numeric points need 'quantity'")
        if self.valid_min is not None and self.valid_max is not None and self.valid_min > self.valid_max:
            raise ValueError(f"valid_min {self.valid_min} > valid_max {self.valid_max}")
        if self.enum is not None and self.type in (RawType.FLOAT32, RawType.FLOAT64, RawType.STRING):
            raise ValueError("'enum' needs an integer or bit type")
        return self

    @property
    def words(self) -> int:
        """Registers (or bits, for bit tables) this point occupies."""
        if self.type is RawType.STRING:
            return ((self.length or 0) + 1) // 2
        return TYPE_WORDS[self.type]


# The `identify:` section of a profile: what tells this model apart on a live bus.
#
# `campus-twin agent discover` reads what a profile declares here from every answering unit
# and ranks the profiles by the evidence. A profile without `identify:` is still usable, it is
# just never auto-matched. Evidence kinds, strongest first:
#
# - `device_id`: regular expressions on the Read Device Identification objects (FC 43/14:
#   vendor name, product code, revision) — decisive when the device implements it;
# - `server_id`: a regular expression on the Report Server ID answer (FC 17);
# - `registers`: identifying registers from the vendor's table — a fixed model code
#   (`values: [0x70]`), a register that holds the unit's own address (`expect: unit_id`), the
#   baud-rate code of the line (`expect: baud_code` with the manual's `codes`), a set or range
#   of legal settings (`values`, `min`/`max`);
# - `points`: plausible ranges of the profile's own points decoded with the profile
#   (default: every point with `valid_min`/`valid_max`); weakest, because another model's
#   register can hold a number in range by chance.
#
# Where a vendor documents no identifying register the section says so in `notes` and relies
# on fixed-value and range evidence: discovery then names the model only when nothing else fits.

IdentifyKind = Literal["value", "unit_id", "baud_code"]


class IdentifyRegister(BaseModel):
    """One identifying register (or register pair) from the vendor's table."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="the manual's name, e.g. 设备地址 / Meter code")
    table: Table
    address: int | str
    type: RawType = RawType.UINT16
    byte_order: ByteOrder | None = None
    expect: IdentifyKind = "value"
    values: list[float] | None = Field(default=None, description="legal values (expect: value)")
    min: float | None = None
    max: float | None = None
    codes: dict[int, int] | None = Field(default=None, description="baud rate → code (expect: baud_code)")
    why: str | None = Field(default=None, description="where the manual says so")

    @model_validator(mode="after")
    def _consistent(self) -> IdentifyRegister:
        if self.table.is_bit or self.type in (RawType.BIT, RawType.STRING):
            raise ValueError(
                "an identifying register is a numeric register (holding or input), not a bit or string"
            )
        if isinstance(self.address, str):
            table, _ = parse_modicon(self.address)
            if table is not self.table:
                raise ValueError(f"address {self.address!r} is a {table.value} in Modicon notation")
        elif not 0 <= self.address <= 0xFFFF:
            raise ValueError("address must be 0..0xFFFF")
        if self.expect == "value" and self.values is None and self.min is None and self.max is None:
            raise ValueError("expect: value needs 'values' or 'min'/'max'")
        if self.expect == "baud_code" and not self.codes:
            raise ValueError("expect: baud_code needs 'codes' (baud rate → code, from the manual)")
        if self.expect != "baud_code" and self.codes:
            raise ValueError("'codes' is only for expect: baud_code")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} > max {self.max}")
        return self

    @property
    def protocol_address(self) -> int:
        return parse_modicon(self.address)[1] if isinstance(self.address, str) else self.address

    @property
    def strong(self) -> bool:
        """A single fixed value (a model code) tells a model; a set, a range or a setting does not alone."""
        return self.expect == "value" and self.values is not None and len(self.values) == 1


class Identify(BaseModel):
    """Fingerprint of a model (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    notes: str | None = Field(default=None, description="what the manual offers and what it lacks")
    device_id: dict[Literal["vendor", "product", "revision"], str] | None = Field(
        default=None,
        description="FC 43/14 basic object (VendorName, ProductCode, MajorMinorRevision) → regular expression",
    )
    server_id: str | None = Field(
        default=None, description="FC 17 answer (latin-1 text) → regular expression"
    )
    registers: list[IdentifyRegister] = Field(default_factory=list)
    points: dict[str, tuple[float, float]] | None = Field(
        default=None,
        description="point → plausible (min, max) for identification; default: each point's valid_min/valid_max",
    )

    @model_validator(mode="after")
    def _patterns(self) -> Identify:
        for where, pattern in [
            *((f"device_id.{k}", v) for k, v in (self.device_id or {}).items()),
            *((("server_id", self.server_id),) if self.server_id else ()),
        ]:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{where}: not a regular expression ({exc})") from None
        return self


class DeviceProfile(BaseModel):
    """A device model: its register map and how to plan reads against it."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=ID_PATTERN)]
    manufacturer: str
    model: str
    description: str | None = None
    source: Source
    serial: SerialDefaults | None = None
    defaults: Defaults = Field(default_factory=Defaults)
    role: SensorRole | None = Field(
        default=None,
        description="where the device measures as usually mounted (wall, desk …); a point may override",
    )
    points: list[Point] = Field(min_length=1)
    identify: Identify | None = Field(
        default=None,
        description="fingerprint for `agent discover`; without it the profile is never auto-matched",
    )

    @model_validator(mode="after")
    def _check_points(self, info: ValidationInfo) -> DeviceProfile:
        # the YAML loader defers this check so it can point at the offending line
        if not (info.context or {}).get("defer_point_checks"):
            problems = check_points(self)
            if problems:
                raise ValueError("; ".join(f"points[{i}].{f}: {m}" for i, f, m in problems))
        return self

    @model_validator(mode="after")
    def _check_identify(self) -> DeviceProfile:
        if self.identify is not None and self.identify.points:
            names = {p.name for p in self.points}
            unknown = sorted(set(self.identify.points) - names)
            if unknown:
                raise ValueError(f"identify.points names {unknown} which are not points of this profile")
        return self

    def point(self, name: str) -> Point:
        for p in self.points:
            if p.name == name:
                return p
        raise KeyError(f"profile {self.name!r} has no point {name!r}")

    def role_of(self, point: Point) -> SensorRole | None:
        """The point's default role (a binding may override it): the point's, else the profile's."""
        return point.role or self.role

    def protocol_address(self, point: Point) -> int:
        """The 0-based address sent in the PDU."""
        if isinstance(point.address, str):
            return parse_modicon(point.address)[1]
        base = point.address_base if point.address_base is not None else self.defaults.address_base
        return point.address - base

    def order_of(self, point: Point) -> ByteOrder:
        return point.byte_order or self.defaults.byte_order


def check_points(profile: DeviceProfile) -> list[tuple[int, str, str]]:
    """(point index, field, message) for duplicate names, addresses outside 0..0xFFFF, points
    longer than a request may be, and registers claimed by two points.

    Bit points may share a register (that is what `bit` is for) but not the same bit."""
    problems: list[tuple[int, str, str]] = []
    seen: dict[str, int] = {}
    whole: dict[tuple[Table, int], str] = {}
    bits: dict[tuple[Table, int], dict[int, str]] = {}
    for i, p in enumerate(profile.points):
        if p.name in seen:
            problems.append((i, "name", f"duplicate point name {p.name!r} (first at points[{seen[p.name]}])"))
            continue
        seen[p.name] = i
        start = profile.protocol_address(p)
        if start < 0:
            problems.append((i, "address", f"address {p.address} is below address_base"))
            continue
        if start + p.words - 1 > MAX_ADDRESS:
            problems.append((i, "address", f"{p.words} registers from {start} run past 0xFFFF"))
            continue
        limit = profile.defaults.max_bits if p.table.is_bit else profile.defaults.max_registers
        if p.words > limit:
            problems.append((i, "type", f"{p.words} registers exceed the request limit {limit}"))
        for addr in range(start, start + p.words):
            key = (p.table, addr)
            clash = whole.get(key)
            if clash is None and p.bit is None and key in bits:
                clash = next(iter(bits[key].values()))
            if clash is None and p.bit is not None:
                clash = bits.get(key, {}).get(p.bit)
            if clash is not None:
                where = f"{p.table.value} {addr}" + (f" bit {p.bit}" if p.bit is not None else "")
                problems.append((i, "address", f"point {p.name!r} overlaps point {clash!r} at {where}"))
                break
            if p.bit is None:
                whole[key] = p.name
            else:
                bits.setdefault(key, {})[p.bit] = p.name
    return problems


def profile_warnings(profile: DeviceProfile) -> list[str]:
    """Legal but probably wrong mappings, for `agent check`: a coil, discrete input or register
    bit is a yes/no, so mapping it to a count quantity (occupancy = head count, persons) stores
    a PIR's "1" as "1 persons". Such a point wants `quantity: presence` (unit bool)."""
    out = []
    for p in profile.points:
        if p.quantity is None:
            continue
        kind = catalogue().spec(p.quantity).kind
        if p.type is RawType.BIT and kind == "count":
            out.append(
                f"profile {profile.name} point {p.name}: a {p.table.value} bit mapped to {p.quantity} "
                f"(a {kind}, unit {catalogue().spec(p.quantity).unit}); a yes/no sensor is quantity presence"
            )
    return out
