"""The telemetry contract: one reading, the upstream MQTT topics and batch payloads.

Both the edge agent (producer) and ingest (consumer) import this module and nothing else
of each other. See docs/wire-format.md for the prose version with examples.

Wire encoding is JSON with positional reading rows (measured in bench/contract_codec.py):
rows avoid repeating key names, which halves the payload against objects. Ingest decodes with
`decode_rows`: msgspec's typed decoder first (batches whose readings are all good, ≈ 0.8 µs per
reading against 1.95 for json.loads + row checks), the checked stdlib path for everything else.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from operator import itemgetter
from typing import Annotated, Any, Literal, TypeGuard

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contract.device_names import ID_PATTERN, DeviceIdent, is_device_id
from contract.quantities import KnownQuantity, catalogue
from contract.timestamps import (
    DEFAULT_MAX_SKEW_S,
    PLAUSIBLE_SINCE_NS,
    agent_clock_verdict,
    check_device_time,
    describe_offset,
    iso,
)

WIRE_VERSION = 1
TOPIC_ROOT = "campus"
MAX_BATCH_READINGS = 10_000
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024

# An id is what appears in topics, series keys and tags: keep it to safe characters so no
# escaping is ever needed in a topic, and a '+'/'#' wildcard can never be smuggled in.
_ID_RE = re.compile(ID_PATTERN)
Ident = Annotated[str, Field(pattern=ID_PATTERN)]


class Quality(StrEnum):
    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"


_QUALITY_CODES = {"g": Quality.GOOD, "u": Quality.UNCERTAIN, "b": Quality.BAD}
_QUALITY_TO_CODE = {v: k for k, v in _QUALITY_CODES.items()}

# Canonical unit per quantity, from the quantity catalogue (contract/quantities.yaml): the agent
# normalises to these, ingest rejects others. Derived views, never a second table.
CANONICAL_UNITS: dict[str, str] = catalogue().canonical_units()
QUANTITIES = frozenset(CANONICAL_UNITS)


class TelemetryError(ValueError):
    """A payload that breaks the contract; `where` names the topic and field path."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


TS_MIN_NS = 946_684_800_000_000_000  # 2000-01-01: a reading's time is after this …
TS_MAX_NS = 4_102_444_800_000_000_000  # … and before 2100-01-01 (ns since the epoch, UTC)


class Reading(BaseModel):
    """One value of one point of one device, stamped when it was read (ns since epoch, UTC)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    site: Ident
    agent: Ident
    device: DeviceIdent
    point: Ident
    quantity: KnownQuantity
    value: float | None
    unit: str
    ts: int = Field(gt=TS_MIN_NS, lt=TS_MAX_NS)  # 2000..2100
    quality: Quality = Quality.GOOD
    reason: str | None = Field(default=None, max_length=500)

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("value must be finite (NaN/Inf are sent as null with quality bad)")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Reading:
        expected = CANONICAL_UNITS[self.quantity]
        if self.unit != expected:
            raise ValueError(f"unit {self.unit!r} is not the canonical {expected!r} for {self.quantity}")
        if self.value is None and self.quality is Quality.GOOD:
            raise ValueError("a reading without a value cannot have quality good")
        if self.quality is not Quality.GOOD and not self.reason:
            raise ValueError(f"quality {self.quality.value} needs a reason")
        return self

    @property
    def series_key(self) -> SeriesKey:
        return SeriesKey(self.site, self.device, self.point)


@dataclass(frozen=True, slots=True, order=True)
class SeriesKey:
    """Identity of a time series; with a timestamp it identifies a point (idempotent writes)."""

    site: str
    device: str
    point: str

    def __str__(self) -> str:
        return f"{self.site}/{self.device}/{self.point}"


class Batch(BaseModel):
    """What an agent publishes on its telemetry topic.

    `seq` grows by one per batch per agent and survives restarts, so the receiver can tell
    a gap (seq jumped) from a redelivery (seq already seen). A resent batch keeps its seq.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    site: Ident
    agent: Ident
    seq: int = Field(ge=0)
    sent: int = Field(gt=0, description="ns UTC when the batch was (re)sent")
    readings: tuple[Reading, ...] = Field(max_length=MAX_BATCH_READINGS)

    @model_validator(mode="after")
    def _same_origin(self) -> Batch:
        for i, r in enumerate(self.readings):
            if r.site != self.site or r.agent != self.agent:
                raise ValueError(
                    f"readings[{i}] is from {r.site}/{r.agent}, batch is {self.site}/{self.agent}"
                )
        return self


class HealthReport(BaseModel):
    """Periodic agent health, published on the health topic and shown by the API."""

    model_config = ConfigDict(extra="allow")

    queue_depth: int = Field(ge=0)
    oldest_unsent_age_s: float | None = Field(default=None, ge=0)
    dropped_total: int = Field(default=0, ge=0)
    quarantined_total: int = Field(default=0, ge=0)
    devices: dict[str, dict[str, Any]] = Field(default_factory=dict)


class Status(BaseModel):
    """Birth (`online`), last will (`offline`) and periodic health of an agent (retained)."""

    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = 1
    site: Ident
    agent: Ident
    state: Literal["online", "offline", "health"]
    ts: int = Field(gt=0)
    version: str | None = None
    health: HealthReport | None = None


# ---------------------------------------------------------------- topics

TopicKind = Literal["telemetry", "status", "health"]


def topic(site: str, agent: str, kind: TopicKind) -> str:
    for name, value in (("site", site), ("agent", agent)):
        if not _ID_RE.match(value):
            raise TelemetryError(name, f"{value!r} is not a valid id ({ID_PATTERN})")
    return f"{TOPIC_ROOT}/{site}/{agent}/{kind}"


def subscription(kind: TopicKind, site: str = "+", share_group: str | None = None) -> str:
    """Filter for all agents' `kind` topics; `share_group` makes it an MQTT shared subscription."""
    base = f"{TOPIC_ROOT}/{site}/+/{kind}"
    return f"$share/{share_group}/{base}" if share_group else base


@dataclass(frozen=True, slots=True)
class TopicParts:
    site: str
    agent: str
    kind: TopicKind


def parse_topic(name: str) -> TopicParts:
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != TOPIC_ROOT or parts[3] not in ("telemetry", "status", "health"):
        raise TelemetryError(
            f"topic {name!r}", f"expected {TOPIC_ROOT}/<site>/<agent>/<telemetry|status|health>"
        )
    site, agent, kind = parts[1], parts[2], parts[3]
    for label, value in (("site", site), ("agent", agent)):
        if not _ID_RE.match(value):
            raise TelemetryError(f"topic {name!r}", f"{label} {value!r} is not a valid id")
    return TopicParts(site, agent, kind)  # type: ignore[arg-type]


# ---------------------------------------------------------------- encoding

# Row order on the wire; documented in docs/wire-format.md. A trailing reason is optional.
ROW_FIELDS = ("device", "point", "quantity", "value", "unit", "ts", "quality", "reason")


_ROW_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


_QUALITY_JSON = {q: _ROW_ENCODER.encode(code) for q, code in _QUALITY_TO_CODE.items()}


@dataclass(frozen=True, slots=True)
class RowTemplate:
    """The wire row's one writer: a point's fixed fields (device, point, quantity, unit) encoded
    once, so `row(...)` writes a reading without running the JSON encoder on the whole row (the
    agent's hot path: one template per point, many readings). The text is what a JSON encoder
    writes for the row as a list (compact, UTF-8, no NaN; tests/contract pins it)."""

    head: str  # '["device","point","quantity",'
    unit: str  # ',"unit",'

    @classmethod
    def of(cls, device: str, point: str, quantity: str, unit: str) -> RowTemplate:
        return cls(
            _ROW_ENCODER.encode([device, point, quantity])[:-1] + ",", f",{_ROW_ENCODER.encode(unit)},"
        )

    def row(self, value: float | None, ts: int, quality: Quality, reason: str | None) -> str:
        if type(value) is float and math.isfinite(value):
            v = float.__repr__(value)  # what json writes for a float
        else:
            v = _ROW_ENCODER.encode(value)  # null; a non-finite float raises ValueError
        q = _QUALITY_JSON[quality]
        if reason:
            return f"{self.head}{v}{self.unit}{ts:d},{q},{_ROW_ENCODER.encode(reason)}]"
        return f"{self.head}{v}{self.unit}{ts:d},{q}]"


def encode_row_values(
    device: str,
    point: str,
    quantity: str,
    value: float | None,
    unit: str,
    ts: int,
    quality: Quality,
    reason: str | None,
) -> str:
    """`encode_row` from already valid fields (the agent's normaliser checks them once per point):
    no `Reading` is built. The row's layout is `RowTemplate`'s alone; templates of recent series
    are kept (a batch repeats its series)."""
    return _template(device, point, quantity, unit).row(value, ts, quality, reason)


_template = lru_cache(maxsize=4096)(RowTemplate.of)


def encode_row(r: Reading) -> str:
    """One reading as its wire row (JSON text). The agent's buffer stores exactly this and
    `encode_rows_batch` splices stored rows into a batch, so a reading is encoded once."""
    return encode_row_values(r.device, r.point, r.quantity, r.value, r.unit, r.ts, r.quality, r.reason)


def encode_rows_batch(site: str, agent: str, seq: int, sent: int, rows: Sequence[str]) -> bytes:
    """A batch envelope around already encoded rows (`encode_row`): byte-identical to
    `encode_batch` of the same readings, without rebuilding them."""
    head = json.dumps(
        {"v": WIRE_VERSION, "site": site, "agent": agent, "seq": seq, "sent": sent},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return (head[:-1] + ',"r":[' + ",".join(rows) + "]}").encode()


def encode_batch(batch: Batch) -> bytes:
    return encode_rows_batch(
        batch.site, batch.agent, batch.seq, batch.sent, [encode_row(r) for r in batch.readings]
    )


def make_batch(site: str, agent: str, seq: int, sent: int, readings: Sequence[Reading]) -> Batch:
    return Batch(site=site, agent=agent, seq=seq, sent=sent, readings=tuple(readings))


# One validated wire row: (device, point, quantity, value, unit, ts, quality, reason).
Row = tuple[str, str, str, float | None, str, int, Quality, str | None]


# The wire row of a good reading with a value and no reason: code "g" at [6], no [7].
GoodRow = tuple[str, str, str, float, str, int, str]


class GoodRows(list[GoodRow]):
    """The rows of a batch whose readings are all good, with a value and no reason, kept as the
    wire gave them (msgspec's tuples): turning each into a `Row` cost as much as decoding it.
    Indexes 0-5 are a `Row`'s; `as_rows` gives `Row`s where a consumer needs the general shape."""

    __slots__ = ()


def as_rows(rows: Sequence[Row] | GoodRows) -> Sequence[Row]:
    """`rows` as `Row`s (a `GoodRows` converted: quality good, no reason)."""
    if isinstance(rows, GoodRows):
        good = Quality.GOOD
        return [(d, p, q, v, u, t, good, None) for d, p, q, v, u, t, _ in rows]
    return rows


@dataclass(frozen=True, slots=True)
class RowBatch:
    """A validated telemetry batch as plain rows: what `decode_batch` checks, without building a
    `Reading` per row (ingest turns rows straight into store points; see `decode_rows`)."""

    site: str
    agent: str
    seq: int
    sent: int
    rows: list[Row] | GoodRows


def decode_batch(
    payload: bytes, topic_name: str | None = None, max_skew_s: float = DEFAULT_MAX_SKEW_S
) -> Batch:
    """Parse and validate a telemetry payload. Errors name the topic and the field path."""
    where, doc = _parse_envelope(payload, topic_name, max_skew_s)
    return _validate_with_pydantic(doc, where)


def decode_rows(
    payload: bytes, topic_name: str | None = None, max_skew_s: float = DEFAULT_MAX_SKEW_S
) -> RowBatch:
    """`decode_batch` as plain rows: accepts and rejects exactly what it does, with the same
    messages, the same values (tests/contract/test_fast_decode.py), ~3× faster."""
    fast = _msgspec_rows(payload, max_skew_s)
    if fast is not None:
        return fast
    where, doc = _parse_envelope(payload, topic_name, max_skew_s, restamp=False)
    sent = doc.get("sent")
    if type(sent) is int and _TS_MIN < sent < _TS_MAX:
        # the device-clock rule, folded into the fast check: when every row's time is already
        # plausible `restamp_rows` would change nothing, so it only runs when one is not
        now = time.time_ns()
        lo, hi = _plausible_window(sent, now, max_skew_s)
        fast = _fast_rows(doc, max(lo, _TS_MIN + 1), min(hi, _TS_MAX - 1))
        if fast is None:
            restamp_rows(doc["r"], sent, now, max_skew_s)
            fast = _fast_rows(doc)
    else:
        fast = _fast_rows(doc)
    if fast is not None:
        return fast
    b = _validate_with_pydantic(doc, where)  # raises the contract's error, or accepts a coercion
    rows = [(r.device, r.point, r.quantity, r.value, r.unit, r.ts, r.quality, r.reason) for r in b.readings]
    return RowBatch(b.site, b.agent, b.seq, b.sent, rows)


def restamp_rows(
    rows: list[Any], sent_ns: int, now_ns: int | None = None, max_skew_s: float = DEFAULT_MAX_SKEW_S
) -> int:
    """Apply the device-clock rule to raw wire rows in place; returns how many were restamped.

    Both decoders run it, so ingest applies the agent's rule to every agent, old versions
    included: a reading stamped before 2020 or more than the skew ahead of both the batch's
    `sent` and this host's clock (the later of the two, so a sped-up demo clock is not "ahead")
    gets `sent` as its time and quality uncertain with the reason, instead of being rejected or
    stored in the future. Malformed rows are left to validation, which names them."""
    ref = max(sent_ns, time.time_ns() if now_ns is None else now_ns)
    lo, hi = _plausible_window(sent_ns, ref, max_skew_s)
    n = 0
    for row in rows:
        if type(row) is not list or not 7 <= len(row) <= 8:
            continue
        ts = row[5]
        if type(ts) is not int or lo <= ts <= hi:
            continue
        _, reason = check_device_time(ts, ref, max_skew_s)
        old = row[7] if len(row) == 8 and isinstance(row[7], str) else None
        row[5] = sent_ns
        if row[6] == "g":
            row[6] = "u"
        text = f"{old}; {reason}" if old else (reason or "")
        row[7:] = [text[:_REASON_MAX]]
        n += 1
    return n


@dataclass(frozen=True, slots=True)
class AgentClockCheck:
    """What a receiver found about an agent's clock in one batch (`check_agent_clock`)."""

    verdict: str  # ahead (restamped) | behind (marked uncertain) | late (stored as stamped)
    offset_ns: int  # sent - the receiver's now
    restamped: int  # rows moved back onto the receiver's clock (ahead) or marked uncertain (behind)


STEADY_SPAN_NS = 10 * 1_000_000_000  # late batches over this much sent time decide live vs backlog


@dataclass
class AgentClockMemory:
    """What a receiver remembers of one agent's clock between batches."""

    ahead_ns: int | None = None  # the offset its readings were restamped by
    late_since: tuple[int, int] | None = None  # (sent, lateness) of the first late batch in a row


def check_agent_clock(
    batch: RowBatch,
    now_ns: int,
    max_skew_s: float = DEFAULT_MAX_SKEW_S,
    memory: AgentClockMemory | None = None,
) -> tuple[RowBatch, AgentClockCheck | None]:
    """The batch judged against the receiver's own clock (the device-clock rule compares with
    `sent`, which a wrong agent clock makes wrong too).

    - ahead (RTC reset, an NTP step): every row stamped ahead of the receiver's clock is moved
      back by the offset onto it, quality good → uncertain, with the reason, so nothing is stored
      in the future; rows stamped before the step (a batch sent just after it) keep their times.
      The offset is remembered per agent and kept while new ones are within the skew of it, so a
      redelivered batch gets the same times again and the store collapses it.
    - late: a broker backlog (ingest was down) and an agent clock behind look alike in one batch.
      Over `STEADY_SPAN_NS` of sent time they differ: a backlog arrives faster than it was sent
      (its lateness shrinks), a clock behind keeps the same lateness batch after batch (live
      flow). Steady lateness is `behind`: rows keep their times (which clock is right cannot be
      told from here) with quality uncertain and the reason; otherwise `late`, stored as stamped."""
    mem = memory if memory is not None else AgentClockMemory()
    verdict = agent_clock_verdict(batch.sent, now_ns, max_skew_s)
    if verdict is None:
        mem.late_since = None
        return batch, None
    offset = batch.sent - now_ns
    if verdict == "late":
        mem.ahead_ns = None
        lateness = -offset
        if mem.late_since is None or batch.sent <= mem.late_since[0]:
            mem.late_since = (batch.sent, lateness)
            return batch, AgentClockCheck("late", offset, 0)
        span = batch.sent - mem.late_since[0]
        if span < STEADY_SPAN_NS or abs(lateness - mem.late_since[1]) > span // 4:
            if abs(lateness - mem.late_since[1]) > span // 4:
                mem.late_since = (batch.sent, lateness)  # still draining: start over
            return batch, AgentClockCheck("late", offset, 0)
        reason = (
            f"agent clock {describe_offset(offset)} behind ingest's (batches arrive in real time, each "
            f"{describe_offset(offset)} late): time doubtful"
        )
        out, n = _marked(batch, lambda t: True, 0, reason)
        return out, AgentClockCheck("behind", offset, n)
    mem.late_since = None
    if mem.ahead_ns is not None and abs(offset - mem.ahead_ns) <= max_skew_s * 1e9:
        offset = mem.ahead_ns
    mem.ahead_ns = offset
    reason = (
        f"agent clock {describe_offset(offset)} ahead (batch sent {iso(batch.sent)}, "
        f"received {iso(now_ns)}): restamped by ingest"
    )
    ahead = now_ns + int(max_skew_s * 1e9)
    out, moved = _marked(batch, lambda t: t > ahead, offset, reason)
    return out, AgentClockCheck("ahead", offset, moved)


def _marked(
    batch: RowBatch, which: Callable[[int], bool], shift_ns: int, reason: str
) -> tuple[RowBatch, int]:
    """The batch with the rows whose time `which` picks moved back by `shift_ns`, good → uncertain,
    the reason appended; and how many rows that was."""
    rows: list[Row] = []
    n = 0
    for row in as_rows(batch.rows):
        d, p, q, v, u, t, quality, old = row
        if not which(t):
            rows.append(row)
            continue
        text = f"{old}; {reason}" if old else reason
        if quality is Quality.GOOD:
            quality = Quality.UNCERTAIN
        rows.append((d, p, q, v, u, t - shift_ns, quality, text[:_REASON_MAX]))
        n += 1
    return RowBatch(batch.site, batch.agent, batch.seq, batch.sent, rows), n


def _plausible_window(sent_ns: int, now_ns: int, max_skew_s: float = DEFAULT_MAX_SKEW_S) -> tuple[int, int]:
    """Device times `restamp_rows` leaves alone: from 2020 to the skew past max(sent, now)."""
    return PLAUSIBLE_SINCE_NS, max(sent_ns, now_ns) + int(max_skew_s * 1e9)


def _parse_envelope(
    payload: bytes, topic_name: str | None, max_skew_s: float = DEFAULT_MAX_SKEW_S, restamp: bool = True
) -> tuple[str, dict[str, Any]]:
    """JSON and the checks made before any row is validated (and, unless told not to, the
    device-clock rule on the rows; `decode_rows` applies it itself)."""
    where = f"topic {topic_name!r}" if topic_name else "payload"
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise TelemetryError(where, f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        doc = json.loads(payload, parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TelemetryError(where, f"not valid JSON: {exc}") from None
    except ValueError as exc:
        raise TelemetryError(where, str(exc)) from None
    if not isinstance(doc, dict):
        raise TelemetryError(where, f"expected a JSON object, got {type(doc).__name__}")
    if doc.get("v") != WIRE_VERSION:
        raise TelemetryError(
            f"{where} field 'v'", f"unsupported version {doc.get('v')!r}, expected {WIRE_VERSION}"
        )
    rows = doc.get("r")
    if not isinstance(rows, list):
        raise TelemetryError(f"{where} field 'r'", "expected a list of reading rows")
    if len(rows) > MAX_BATCH_READINGS:
        raise TelemetryError(f"{where} field 'r'", f"{len(rows)} rows exceed {MAX_BATCH_READINGS}")
    sent = doc.get("sent")
    if restamp and type(sent) is int and _TS_MIN < sent < _TS_MAX:
        restamp_rows(rows, sent, max_skew_s=max_skew_s)
    return where, doc


def _validate_with_pydantic(doc: dict[str, Any], where: str) -> Batch:
    rows = doc["r"]
    readings = []
    for i, row in enumerate(rows):
        if not isinstance(row, list) or not 7 <= len(row) <= 8:
            raise TelemetryError(f"{where} field 'r[{i}]'", f"expected a row of 7-8 items {ROW_FIELDS}")
        quality = _QUALITY_CODES.get(row[6]) if isinstance(row[6], str) else None
        if quality is None:
            raise TelemetryError(f"{where} field 'r[{i}].quality'", f"expected one of g/u/b, got {row[6]!r}")
        readings.append(
            {
                "site": doc.get("site"),
                "agent": doc.get("agent"),
                "device": row[0],
                "point": row[1],
                "quantity": row[2],
                "value": row[3],
                "unit": row[4],
                "ts": row[5],
                "quality": quality,
                "reason": row[7] if len(row) == 8 else None,
            }
        )
    body = {k: doc.get(k) for k in ("v", "site", "agent", "seq", "sent")}
    try:
        return Batch.model_validate({**body, "readings": readings}, strict=False)
    except ValidationError as exc:
        raise TelemetryError(where, _describe(exc)) from None


# The fast path accepts only what is unambiguously valid with exact JSON types; anything else
# (a coercion pydantic would make, or an error) goes to `_validate_with_pydantic`, which then
# accepts it or raises the contract's error message. So it can only be stricter, never laxer.
# fullmatch, not ID_PATTERN's '$': Python's '$' would also match before a trailing newline.
_ID_FULLMATCH = re.compile(ID_PATTERN[1:-1]).fullmatch
_TS_MIN, _TS_MAX = 946_684_800_000_000_000, 4_102_444_800_000_000_000
_EXACT_INT_FLOAT = 2**53  # ints up to this convert to float exactly
_REASON_MAX = 500
_KNOWN_IDS: set[str] = set()  # ids already proven valid (device/point names repeat endlessly)
_KNOWN_IDS_MAX = 100_000
_KNOWN_SERIES: set[tuple[str, str, str, str]] = set()  # (device, point, quantity, unit) proven valid


def _valid_id(v: object) -> TypeGuard[str]:
    if type(v) is not str:
        return False
    if v in _KNOWN_IDS:
        return True
    if _ID_FULLMATCH(v) is None:
        return False
    if len(_KNOWN_IDS) >= _KNOWN_IDS_MAX:
        _KNOWN_IDS.clear()
    _KNOWN_IDS.add(v)
    return True


_KNOWN_DEVICES: set[str] = set()  # device ids proven valid (kept apart: a device id may be Unicode)


def _valid_device(v: object) -> TypeGuard[str]:
    if type(v) is not str:
        return False
    if v in _KNOWN_DEVICES:
        return True
    if not is_device_id(v):
        return False
    if len(_KNOWN_DEVICES) >= _KNOWN_IDS_MAX:
        _KNOWN_DEVICES.clear()
    _KNOWN_DEVICES.add(v)
    return True


def _known_series(device: object, point: object, quantity: object, unit: object) -> bool:
    """Whether (device, point, quantity, unit) are valid ids and a canonical unit; remembered."""
    if not _valid_device(device) or not _valid_id(point):
        return False
    if type(quantity) is not str or type(unit) is not str or CANONICAL_UNITS.get(quantity) != unit:
        return False
    if len(_KNOWN_SERIES) >= _KNOWN_IDS_MAX:
        _KNOWN_SERIES.clear()
    _KNOWN_SERIES.add((device, point, quantity, unit))
    return True


def _fast_rows(doc: dict[str, Any], ts_lo: int = _TS_MIN + 1, ts_hi: int = _TS_MAX - 1) -> RowBatch | None:
    """Validated rows, or None when the pydantic path must decide (see above). Row times must
    lie in [ts_lo, ts_hi] (within the contract's range; `decode_rows` narrows it)."""
    site, agent, seq, sent = doc.get("site"), doc.get("agent"), doc.get("seq"), doc.get("sent")
    if type(doc.get("v")) is not int or not _valid_id(site) or not _valid_id(agent):
        return None
    if type(seq) is not int or seq < 0 or type(sent) is not int or sent <= 0:
        return None
    rows = doc["r"]
    try:  # an unhashable field (a list where an id belongs) raises TypeError: not for the fast path
        out = _checked_rows(rows, ts_lo, ts_hi)
    except TypeError:
        return None
    return None if out is None else RowBatch(site, agent, seq, sent, out)


# The C-speed first try (msgspec, optional: without it `decode_rows` behaves the same, slower).
# Its types accept only a subset of what the checks above accept: every row good, with a finite
# value within ±2**53 (so a JSON int converts to the same float as `float(int)`), a time inside
# the contract's range, no unknown envelope field (msgspec skips those unread, so bytes json.loads
# refuses could hide there). Anything else — a reason, a null, a restamp, a coercion, an error —
# fails it and takes the path above, which decides and words the error. Ids and series are then
# checked with the same remembered sets as `_checked_rows`, at C speed.
try:
    import msgspec
except ImportError:  # pragma: no cover - exercised by the agent-only install
    msgspec = None  # type: ignore[assignment]

if msgspec is not None:
    _Value = Annotated[float, msgspec.Meta(ge=-float(_EXACT_INT_FLOAT), le=float(_EXACT_INT_FLOAT))]
    _Time = Annotated[int, msgspec.Meta(gt=_TS_MIN, lt=_TS_MAX)]
    _GoodRow = tuple[str, str, str, _Value, str, _Time, Literal["g"]]

    class _GoodBatch(msgspec.Struct, forbid_unknown_fields=True):
        v: Literal[1]
        site: str
        agent: str
        seq: Annotated[int, msgspec.Meta(ge=0)]
        sent: Annotated[int, msgspec.Meta(gt=0)]
        r: Annotated[list[_GoodRow], msgspec.Meta(max_length=MAX_BATCH_READINGS)]

    _GOOD_DECODER: msgspec.json.Decoder[_GoodBatch] | None = msgspec.json.Decoder(_GoodBatch)
    _MSGSPEC_ERRORS: tuple[type[Exception], ...] = (msgspec.DecodeError,)
else:  # pragma: no cover
    _GOOD_DECODER = None
    _MSGSPEC_ERRORS = ()

_SERIES_OF = itemgetter(0, 1, 2, 4)  # (device, point, quantity, unit) of a wire row
_TS_OF = itemgetter(5)


def _msgspec_rows(payload: bytes, max_skew_s: float) -> RowBatch | None:
    """The batch when every row is good and plainly valid (decoded by msgspec); else None."""
    if _GOOD_DECODER is None or len(payload) > MAX_PAYLOAD_BYTES:
        return None
    try:
        b = _GOOD_DECODER.decode(payload)
    except _MSGSPEC_ERRORS:  # ValidationError is a DecodeError
        return None
    if not _valid_id(b.site) or not _valid_id(b.agent):
        return None
    rows = b.r
    if rows:
        if _TS_MIN < b.sent < _TS_MAX:  # the device-clock rule: restamping is the slow path's job
            lo, hi = _plausible_window(b.sent, time.time_ns(), max_skew_s)
            if min(map(_TS_OF, rows)) < lo or max(map(_TS_OF, rows)) > hi:
                return None
        known = _KNOWN_SERIES
        if not known.issuperset(map(_SERIES_OF, rows)):
            for device, point, quantity, unit in set(map(_SERIES_OF, rows)).difference(known):
                if not _known_series(device, point, quantity, unit):
                    return None
    return RowBatch(b.site, b.agent, b.seq, b.sent, GoodRows(rows))


def _checked_rows(rows: list[Any], ts_lo: int, ts_hi: int) -> list[Row] | None:
    """The rows, each checked; a row's (device, point, quantity, unit) is checked once per
    process (one set lookup after that: the same series repeat in every batch)."""
    codes = _QUALITY_CODES
    known = _KNOWN_SERIES
    good = Quality.GOOD
    isfinite = math.isfinite
    out: list[Row] = []
    append = out.append
    for row in rows:
        if type(row) is not list:
            return None
        n = len(row)
        if n == 7:
            device, point, quantity, value, unit, ts, code = row
            reason = None
        elif n == 8:
            device, point, quantity, value, unit, ts, code, reason = row
            if reason is not None and (type(reason) is not str or len(reason) > _REASON_MAX):
                return None
        else:
            return None
        if (device, point, quantity, unit) not in known and not _known_series(device, point, quantity, unit):
            return None
        if type(ts) is not int or not ts_lo <= ts <= ts_hi:
            return None
        quality = codes.get(code) if type(code) is str else None
        if quality is None:
            return None
        tv = type(value)
        if tv is float:
            if not isfinite(value):
                return None
        elif tv is int:
            if not -_EXACT_INT_FLOAT <= value <= _EXACT_INT_FLOAT:
                return None
            value = float(value)
        elif value is None:
            if quality is good:
                return None
        else:
            return None
        if quality is not good and not reason:
            return None
        append((device, point, quantity, value, unit, ts, quality, reason))
    return out


def encode_status(status: Status) -> bytes:
    return status.model_dump_json(exclude_none=True).encode()


def decode_status(payload: bytes, topic_name: str | None = None) -> Status:
    where = f"topic {topic_name!r}" if topic_name else "payload"
    try:
        return Status.model_validate_json(payload)
    except ValidationError as exc:
        raise TelemetryError(where, _describe(exc)) from None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed in JSON payloads; send null with quality bad")


def _describe(exc: ValidationError) -> str:
    """Pydantic's errors as 'field r[3].ts: message; …', with wire field names."""
    out = []
    for err in exc.errors()[:5]:
        loc = list(err["loc"])
        if len(loc) >= 2 and loc[0] == "readings":
            loc = [f"r[{loc[1]}]", *loc[2:]]
        path = ".".join(str(p) for p in loc) or "(root)"
        out.append(f"field '{path}': {err['msg']}")
    more = len(exc.errors()) - 5
    return "; ".join(out) + (f"; and {more} more" if more > 0 else "")
