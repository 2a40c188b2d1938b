"""The line source's config (the agent YAML's `lines:` list): an ASCII data logger that writes one
reading per line (`timestamp,point,value`, or any column order) to a serial port, a file, a FIFO
or stdin. Sample: `sample.yaml`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.quantities import check_quantity
from contract.telemetry import Ident


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SerialSettings(_Strict):
    """Present: `path` is a serial port opened with pyserial at these settings."""

    baudrate: int = Field(default=9600, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8


class Columns(_Strict):
    """0-based column of each field; `device` absent: every line is the input's own device."""

    timestamp: int | None = Field(default=0, ge=0, description="null: stamped at receipt")
    point: int = Field(default=1, ge=0)
    value: int = Field(default=2, ge=0)
    device: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _distinct(self) -> Columns:
        used = [c for c in (self.timestamp, self.point, self.value, self.device) if c is not None]
        if len(used) != len(set(used)):
            raise ValueError(f"two fields share a column: {self.model_dump(exclude_none=True)}")
        return self


class LinePoint(_Strict):
    quantity: str
    unit: str = Field(description="unit the logger writes; converted to the canonical unit")
    valid_min: float | None = None
    valid_max: float | None = None

    @field_validator("quantity")
    @classmethod
    def _known(cls, v: str) -> str:
        return check_quantity(v)


class LineInput(_Strict):
    """One logger: where its lines come from and how a line becomes a reading."""

    id: Ident = Field(description="the device id when there is no device column")
    path: str = Field(min_length=1, description="serial port (with `serial:`), file, FIFO, or - for stdin")
    serial: SerialSettings | None = None
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    columns: Columns = Field(default_factory=Columns)
    timestamp_format: Literal["iso8601", "epoch_s", "epoch_ms"] = "iso8601"
    points: dict[Ident, LinePoint] = Field(
        min_length=1, description="point name in the line → quantity, unit"
    )
    from_beginning: bool = Field(
        default=False, description="a regular file: read what it holds first (default: only new lines)"
    )
    expected_interval_s: float = Field(default=60.0, gt=0, le=86400)
    silence_factor: float = Field(default=3.0, ge=1, le=100)
    reopen_max_s: float = Field(default=30.0, gt=0, le=3600, description="cap of the reopen backoff")

    @property
    def stdin(self) -> bool:
        return self.path == "-"


def rebase_inputs(inputs: list[LineInput], base: Path) -> list[LineInput]:
    """Relative file paths are relative to the config file (serial ports and stdin are not files)."""
    out = []
    for i in inputs:
        p = Path(i.path)
        if i.stdin or i.serial is not None or p.is_absolute():
            out.append(i)
        else:
            out.append(i.model_copy(update={"path": str(base / p)}))
    return out
