"""Which profile is this unit? Pure functions from what a unit answered to ranked candidates.

The I/O side (`scan.py`) reads every register block the candidate profiles declare
(`reads_for`) and asks FC 43/14 and FC 17; this module scores each profile's `identify:`
section against those answers (`fingerprint`) and decides (`verdict`): one profile named
only when its evidence clearly beats every other consistent profile; otherwise the close
candidates and what would tell them apart; with none, what the unit answered.

Weights (a contradiction rules a profile out): FC 43/14 match 10, FC 17 match 6, a single
fixed register value (a model code) 5, the unit's own address in its address register 3,
the line's baud code 2, a value from a set of settings 2, a value in a range 1, each point
decoded inside its plausible range 1. A register that reads 0 is no evidence either way
(undocumented registers often read 0).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from device_profiles.codec import BlockDecoder, decode_raw
from device_profiles.planner import plan_profile
from device_profiles.schema import TYPE_WORDS, DeviceProfile, IdentifyRegister, Table

Key = tuple[Table, int, int]  # table, first protocol address, count
MARGIN = 2.0  # a named profile beats every other consistent one by more than this
MIN_SCORE = 2.0
MIN_CONFIDENCE = 0.5
DEVICE_ID_OBJECTS = {0: "vendor", 1: "product", 2: "revision"}  # FC 43/14 basic objects
_W_DEVICE_ID, _W_SERVER_ID, _W_CODE, _W_UNIT, _W_BAUD, _W_SET, _W_RANGE, _W_POINT = 10, 6, 5, 3, 2, 2, 1, 1


@dataclass(frozen=True)
class Answer:
    """One read: the registers, or the Modbus exception code, or neither (no answer)."""

    words: tuple[int, ...] | None = None
    exception: int | None = None

    @property
    def silent(self) -> bool:
        return self.words is None and self.exception is None


@dataclass
class Observation:
    """Everything one unit answered at one line setting."""

    unit_id: int
    baudrate: int | None  # None: Modbus TCP or RTU over TCP (the converter holds the rate)
    reads: dict[Key, Answer] = field(default_factory=dict)
    device_id: dict[int, str] | None = None  # FC 43/14 objects when answered
    device_id_status: str = "not asked"  # answered | exception N | no answer
    server_id: bytes | None = None
    server_id_status: str = "not asked"


@dataclass(frozen=True)
class Evidence:
    weight: float  # > 0 for, 0 neutral, < 0 contradiction
    text: str


@dataclass
class Candidate:
    profile: str
    score: float = 0.0
    possible: float = 0.0
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def contradicted(self) -> bool:
        return any(e.weight < 0 for e in self.evidence)

    @property
    def confidence(self) -> float:
        return round(self.score / self.possible, 2) if self.possible else 0.0

    def add(self, weight: float, text: str, possible: float | None = None) -> None:
        self.evidence.append(Evidence(weight, text))
        if weight > 0:
            self.score += weight
        self.possible += weight if possible is None else possible


@dataclass
class Verdict:
    status: Literal["identified", "ambiguous", "unknown"]
    profile: str | None
    candidates: list[Candidate]  # ranked: consistent ones by score, then the ruled-out ones
    tell_apart: list[str] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)  # for an unknown unit: what it answered


def register_key(r: IdentifyRegister) -> Key:
    return (r.table, r.protocol_address, TYPE_WORDS[r.type])


def reads_for(profile: DeviceProfile) -> list[Key]:
    """The reads a profile's fingerprint needs: its identifying registers, then its read plan."""
    if profile.identify is None:
        return []
    keys = [register_key(r) for r in profile.identify.registers]
    keys += [(q.table, q.start, q.count) for q in plan_profile(profile)]
    return keys


def reads_for_all(profiles: Iterable[DeviceProfile]) -> list[Key]:
    """Every distinct read over the candidate profiles, identifying registers first."""
    seen: dict[Key, None] = {}
    for p in profiles:
        for k in reads_for(p):
            seen.setdefault(k, None)
    return list(seen)


def where(table: Table, address: int, count: int = 1) -> str:
    short = {
        Table.HOLDING_REGISTER: "HR",
        Table.INPUT_REGISTER: "IR",
        Table.COIL: "coil",
        Table.DISCRETE_INPUT: "DI",
    }
    return f"{short[table]} {address:04X}H" + (f"×{count}" if count > 1 else "")


def _expected(r: IdentifyRegister, unit_id: int, baudrate: int | None) -> str:
    if r.expect == "unit_id":
        return f"the unit id {unit_id}"
    if r.expect == "baud_code":
        codes = r.codes or {}
        return (
            f"baud code {codes[baudrate]}"
            if baudrate in codes
            else f"a baud code {sorted(set(codes.values()))}"
        )
    if r.values is not None:
        return " or ".join(f"{v:g}" for v in r.values)
    return f"{r.min if r.min is not None else '-∞'}..{r.max if r.max is not None else '∞'}"


def _check_register(c: Candidate, r: IdentifyRegister, obs: Observation) -> None:
    key = register_key(r)
    answer = obs.reads.get(key)
    label = f"{r.name} ({where(r.table, r.protocol_address)})"
    if answer is None or answer.silent:
        c.add(0, f"{label}: no answer")
        return
    if answer.words is None:
        c.add(-1, f"{label}: exception {answer.exception} — the model has this register")
        return
    value = float(decode_raw(np.array([answer.words], dtype=np.uint16), r.type, r.byte_order or "ABCD")[0])
    want = _expected(r, obs.unit_id, obs.baudrate)
    if r.expect == "unit_id":
        ok, weight = value == obs.unit_id, _W_UNIT
    elif r.expect == "baud_code":
        codes = r.codes or {}
        if obs.baudrate in codes:
            ok, weight = value == codes[obs.baudrate], _W_BAUD
        else:
            ok, weight = value in codes.values(), _W_RANGE
    elif r.values is not None:
        ok, weight = value in r.values, (_W_CODE if r.strong else _W_SET)
    else:
        ok = (r.min is None or value >= r.min) and (r.max is None or value <= r.max)
        weight = _W_RANGE
    if ok:
        c.add(weight, f"{label} = {value:g}, {want} as the manual says")
    elif value == 0 and r.expect != "value":
        c.add(0, f"{label} reads 0 (expected {want}): no evidence", possible=weight)
    else:
        c.add(-weight, f"{label} = {value:g}, expected {want}")


def _plausible(profile: DeviceProfile) -> dict[str, tuple[float | None, float | None]]:
    ranges = dict(profile.identify.points or {}) if profile.identify else {}
    out: dict[str, tuple[float | None, float | None]] = {}
    for p in profile.points:
        if p.name in ranges:
            out[p.name] = ranges[p.name]
        elif p.valid_min is not None or p.valid_max is not None:
            out[p.name] = (p.valid_min, p.valid_max)
    return out


def _check_points(c: Candidate, profile: DeviceProfile, obs: Observation) -> None:
    ranges = _plausible(profile)
    points = {p.name: p for p in profile.points}
    for q in plan_profile(profile):
        answer = obs.reads.get((q.table, q.start, q.count))
        label = where(q.table, q.start, q.count)
        if answer is None or answer.silent:
            c.add(0, f"{label} ({', '.join(q.points)}): no answer")
            continue
        if answer.words is None:
            c.add(-_W_POINT, f"{label} ({', '.join(q.points)}): exception {answer.exception}")
            continue
        decoded = BlockDecoder(profile, [points[n] for n in q.points], q.start).decode(answer.words)
        for name in q.points:
            if name not in ranges:
                continue
            lo, hi = ranges[name]
            d = decoded[name]
            unit = points[name].unit
            span = f"{'' if lo is None else f'{lo:g}'}..{'' if hi is None else f'{hi:g}'}"
            if d.value is None or isinstance(d.value, str):
                c.add(-_W_POINT, f"{name}: {d.reason or 'not a number'}")
            elif d.raw == 0:
                c.add(0, f"{name} reads 0: no evidence", possible=_W_POINT)
            elif (lo is None or d.value >= lo) and (hi is None or d.value <= hi):
                c.add(_W_POINT, f"{name} = {d.value:.6g} {unit} within {span}")
            else:
                c.add(-_W_POINT, f"{name} = {d.value:.6g} {unit} outside {span}")


def fingerprint(profile: DeviceProfile, obs: Observation) -> Candidate | None:
    """The evidence for and against `profile` in `obs`; None for a profile without `identify:`."""
    ident = profile.identify
    if ident is None:
        return None
    c = Candidate(profile.name)
    if ident.device_id:
        if obs.device_id is None:
            c.add(0, f"FC 43/14: {obs.device_id_status}", possible=0)
        else:
            for obj, pattern in ident.device_id.items():
                oid = next(k for k, v in DEVICE_ID_OBJECTS.items() if v == obj)
                got = obs.device_id.get(oid, "")
                if re.search(pattern, got):
                    c.add(_W_DEVICE_ID / len(ident.device_id), f"FC 43/14 {obj} {got!r} matches /{pattern}/")
                else:
                    c.add(-_W_DEVICE_ID, f"FC 43/14 {obj} {got!r} does not match /{pattern}/")
    if ident.server_id:
        if obs.server_id is None:
            c.add(0, f"FC 17: {obs.server_id_status}", possible=0)
        elif re.search(ident.server_id, obs.server_id.decode("latin-1")):
            c.add(_W_SERVER_ID, f"FC 17 {obs.server_id!r} matches /{ident.server_id}/")
        else:
            c.add(-_W_SERVER_ID, f"FC 17 {obs.server_id!r} does not match /{ident.server_id}/")
    for r in ident.registers:
        _check_register(c, r, obs)
    _check_points(c, profile, obs)
    return c


def _addresses(p: DeviceProfile) -> dict[tuple[Table, int], str]:
    """Every register a profile declares (points and identifying registers) → its name."""
    out: dict[tuple[Table, int], str] = {}
    for pt in p.points:
        a = p.protocol_address(pt)
        out.update({(pt.table, a + i): pt.name for i in range(pt.words)})
    for r in p.identify.registers if p.identify else []:
        out.update({(r.table, r.protocol_address + i): r.name for i in range(TYPE_WORDS[r.type])})
    return out


def _word_at(obs: Observation, table: Table, address: int) -> str:
    for (t, start, count), a in obs.reads.items():
        if t is table and start <= address < start + count and a.words is not None:
            return f"{a.words[address - start]:#06x}"
    return "not read"


def _tell_apart(a: DeviceProfile, b: DeviceProfile, obs: Observation) -> list[str]:
    """The registers one of two close candidates declares and the other does not."""
    out: list[str] = []
    for x, y in ((a, b), (b, a)):
        theirs = _addresses(y)
        first: dict[str, tuple[Table, int]] = {}
        for key, name in _addresses(x).items():
            if key not in theirs:
                first.setdefault(name, key)
        for name, (table, address) in first.items():
            out.append(
                f"{where(table, address)}: {name} on {x.name}, not a register of {y.name} "
                f"(here {_word_at(obs, table, address)})"
            )
    out.append("or read the model on the device's label")
    return out


def describe_answers(obs: Observation) -> list[str]:
    """What an unmatched unit answered, so a profile can be written for it."""
    lines = [f"FC 43/14 read device identification: {obs.device_id_status}"]
    if obs.device_id:
        lines += [
            f"  {DEVICE_ID_OBJECTS.get(k, f'object {k}')}: {v}" for k, v in sorted(obs.device_id.items())
        ]
    lines.append(
        f"FC 17 report server id: {obs.server_id_status}" + (f" {obs.server_id!r}" if obs.server_id else "")
    )
    data = {k: a for k, a in obs.reads.items() if a.words is not None}
    by_code: dict[str, int] = {}
    for k, a in obs.reads.items():
        fc = 3 if k[0] is Table.HOLDING_REGISTER else 4
        state = "data" if a.words is not None else ("no answer" if a.silent else f"exception {a.exception}")
        by_code[f"FC {fc} {state}"] = by_code.get(f"FC {fc} {state}", 0) + 1
    lines.append("reads: " + ", ".join(f"{n}× {s}" for s, n in sorted(by_code.items())))
    for (table, start, count), a in sorted(data.items(), key=lambda kv: (kv[0][0].value, kv[0][1])):
        words = " ".join(f"{w:04X}" for w in (a.words or ())[:16])
        lines.append(f"  {where(table, start, count)}: {words}")
    return lines


def verdict(profiles: Mapping[str, DeviceProfile], obs: Observation) -> Verdict:
    """Rank every profile with a fingerprint; name one only when it clearly wins."""
    scored = [c for p in profiles.values() if (c := fingerprint(p, obs)) is not None]
    viable = sorted(
        (c for c in scored if not c.contradicted and c.score > 0), key=lambda c: (-c.score, c.profile)
    )
    ruled_out = sorted((c for c in scored if c.contradicted), key=lambda c: (-c.score, c.profile))
    ranked = viable + ruled_out
    if not viable:
        return Verdict("unknown", None, ranked, answered=describe_answers(obs))
    top = viable[0]
    # a close candidate whose every positive finding also supports the top one (shared family
    # registers, its own points reading 0) explains strictly less: no rival
    mine = _positive(top)
    rivals = [c for c in viable[1:] if c.score > top.score - MARGIN and not _positive(c) < mine]
    if top.score >= MIN_SCORE and top.confidence >= MIN_CONFIDENCE and not rivals:
        return Verdict("identified", top.profile, ranked)
    if not rivals:  # consistent but too little evidence to name it
        return Verdict("ambiguous", None, ranked, tell_apart=_tell_apart_all(profiles, [top], obs))
    return Verdict("ambiguous", None, ranked, tell_apart=_tell_apart_all(profiles, [top, *rivals], obs))


def _positive(c: Candidate) -> set[str]:
    return {e.text for e in c.evidence if e.weight > 0}


def _tell_apart_all(
    profiles: Mapping[str, DeviceProfile], close: Sequence[Candidate], obs: Observation
) -> list[str]:
    if len(close) == 1:
        return [f"only weak evidence for {close[0].profile}: check the label or add an identifying register"]
    out: list[str] = []
    first = profiles[close[0].profile]
    for other in close[1:]:
        out += [line for line in _tell_apart(first, profiles[other.profile], obs) if line not in out]
    return out
