"""Modbus device *instances* for the agent config: which profile, where, how often.

The agent config embeds `list[ModbusDevice]`; everything about the register map comes from
the named profile, so adding the 40th classroom of the same sensor is four lines of YAML.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.telemetry import Ident
from device_profiles.schema import PlanLimits


class TcpTransport(BaseModel):
    """Modbus TCP (MBAP framing): a native TCP device or a TCP gateway."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["tcp"] = "tcp"
    host: str = Field(min_length=1)
    port: int = Field(default=502, ge=1, le=65535)
    max_connections: int = Field(
        default=1,
        ge=1,
        le=16,
        description="connections the agent opens to this host:port; its devices are spread over them",
    )
    inter_request_delay_s: float = Field(default=0.0, ge=0, le=10, description="pause between requests")


class RtuTransport(BaseModel):
    """Modbus RTU on a local serial port (RS485 adapter): one bus per port."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["rtu"] = "rtu"
    port: str = Field(min_length=1, description="serial device, e.g. /dev/ttyUSB0 or COM3")
    baudrate: int = Field(default=9600, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    inter_request_delay_s: float = Field(default=0.0, ge=0, le=10, description="pause between requests")


class RtuOverTcpTransport(BaseModel):
    """RTU frames (with CRC) tunnelled through a serial-device server (e.g. USR-TCP232):
    still one RS485 line, so one bus."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["rtu-over-tcp"] = "rtu-over-tcp"
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    inter_request_delay_s: float = Field(default=0.0, ge=0, le=10, description="pause between requests")


Transport = Annotated[TcpTransport | RtuTransport | RtuOverTcpTransport, Field(discriminator="type")]


class PlannerOverride(PlanLimits):
    """Per-instance planner limits (only the fields given override the profile's defaults)."""


class ModbusDevice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Ident
    profile: str = Field(description="device profile name, e.g. renke-rs-ws-n01")
    transport: Transport
    unit_id: int = Field(default=1, ge=0, le=247)
    poll_interval_s: float = Field(default=10.0, gt=0, le=86_400)
    timeout_s: float = Field(default=1.0, gt=0, le=60)
    retries: int = Field(default=1, ge=0, le=5, description="extra attempts after a timeout or garbled reply")
    planner: PlannerOverride | None = None
    enabled: bool = True

    def link_key(self) -> str:
        """The physical link: devices with the same key share its connection(s) and scheduler.

        A serial port or an RTU-over-TCP endpoint is one RS485 line (one request at a time);
        a Modbus TCP host:port (a device or a TCP gateway) gets `max_connections` connections
        and its devices are spread over them, so 30 sensors behind one gateway use one socket."""
        t = self.transport
        if isinstance(t, RtuTransport):
            return f"rtu:{t.port}"
        if isinstance(t, RtuOverTcpTransport):
            return f"rtu-over-tcp:{t.host}:{t.port}"
        return f"tcp:{t.host}:{t.port}"


def link_conflicts(devices: list[ModbusDevice]) -> list[str]:
    """Devices on one link must agree on its settings (connections, inter-request delay, serial)."""
    seen: dict[str, tuple[str, Transport]] = {}
    problems = []
    for d in devices:
        key = d.link_key()
        first = seen.setdefault(key, (d.id, d.transport))
        if first[1] != d.transport:
            problems.append(
                f"devices {first[0]!r} and {d.id!r} share {key} but their transport settings differ"
            )
    return problems
