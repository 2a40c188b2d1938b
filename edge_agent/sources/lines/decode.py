"""One logger line → one sample (pure): split, pick the columns, parse time and value.

Errors are `LineError` with a reason naming the column; the source quarantines the line with it.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from contract.device_names import DeviceNameError, device_id
from contract.telemetry import Quality
from contract.timestamps import DEFAULT_MAX_SKEW_S, check_device_time
from edge_agent.samples import Sample
from edge_agent.sources.lines.config import LineInput

_SCALE = {"epoch_s": 1_000_000_000, "epoch_ms": 1_000_000}


class LineError(ValueError):
    """A line that gives no reading; the message says why (quarantine reason)."""


def decode_line(inp: LineInput, line: str, received_ns: int, tz: ZoneInfo) -> Sample | None:
    """The reading of one line; None for a blank line or the header the logger repeats."""
    text = line.strip().lstrip("\ufeff")
    if not text:
        return None
    fields = [f.strip() for f in text.split(inp.delimiter)]
    cols = inp.columns
    need = max(c for c in (cols.timestamp, cols.point, cols.value, cols.device) if c is not None)
    if len(fields) <= need:
        raise LineError(f"{len(fields)} column(s), expected at least {need + 1}")
    point = fields[cols.point]
    raw_value = fields[cols.value]
    if _is_header(point, raw_value):
        return None
    spec = inp.points.get(point)
    if spec is None:
        raise LineError(
            f"column {cols.point + 1}: unknown point {point!r} (known: {', '.join(sorted(inp.points))})"
        )
    try:
        value = float(raw_value)
    except ValueError:
        raise LineError(f"column {cols.value + 1}: value {raw_value!r} is not a number") from None
    if value != value:  # NaN: the logger's "no reading"
        raise LineError(f"column {cols.value + 1}: value is NaN")
    device = inp.id
    if cols.device is not None:
        try:
            device = device_id(fields[cols.device])
        except DeviceNameError as exc:
            raise LineError(f"column {cols.device + 1}: {exc}") from None
    ts, reason = received_ns, None
    if cols.timestamp is not None:
        ts = parse_time(fields[cols.timestamp], inp.timestamp_format, tz, cols.timestamp)
        ts, reason = check_device_time(ts, received_ns, DEFAULT_MAX_SKEW_S)
    quality = Quality.UNCERTAIN if reason else Quality.GOOD
    return Sample(
        device, point, spec.quantity, value, spec.unit, ts, quality, reason, spec.valid_min, spec.valid_max
    )


def parse_time(text: str, fmt: str, tz: ZoneInfo, column: int) -> int:
    """ns UTC; a logger's ISO time without zone is local time (`timezone:` of the agent)."""
    try:
        if fmt == "iso8601":
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=tz)
            return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000
        return int(float(text) * _SCALE[fmt])
    except (ValueError, OverflowError):
        raise LineError(f"column {column + 1}: bad timestamp {text!r} (expected {fmt})") from None


def _is_header(point: str, value: str) -> bool:
    return value.lower() in ("value", "wert", "值", "数值") or point.lower() in ("point", "测点")
