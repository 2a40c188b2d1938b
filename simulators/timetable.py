"""Where a school day stands at a local time: which slot (lesson, 大课间, 午休…) is running.

Pure functions; the model calls them once per step (all rooms of a campus share the bell),
then spreads the result over rooms with numpy. `mix64` is the deterministic per-room/day/slot
dice the model uses, so a room's schedule depends on the seed only, never on how the
simulation was stepped.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulators.school_config import SLOT_KINDS, SchoolConfig, Timetable

NO_SLOT = -1


@dataclass(frozen=True, slots=True)
class SlotState:
    """`kind` indexes SLOT_KINDS (NO_SLOT outside school hours or on a day off); `ordinal`
    numbers the day's slots, so dice can be rolled per slot."""

    school_day: bool
    kind: int
    ordinal: int
    lesson_number: int  # 1-based lesson of the day, 0 when not in a lesson


Bells = tuple[tuple[int, int, int, int], ...]


def slot_at(school: SchoolConfig, timetable: Timetable | Bells, local: dt.datetime) -> SlotState:
    """The slot at `local`; pass `bells_of(timetable)` when calling this per step."""
    day_ok = school.is_school_day(local.date())
    if not day_ok:
        return SlotState(False, NO_SLOT, -1, 0)
    minute = local.hour * 60 + local.minute + local.second / 60.0
    bells = timetable if isinstance(timetable, tuple) else bells_of(timetable)
    for i, (start, end, kind, lesson) in enumerate(bells):
        if start <= minute < end:
            return SlotState(True, kind, i, lesson)
    return SlotState(True, NO_SLOT, -1, 0)


def bells_of(timetable: Timetable) -> Bells:
    """(start min, end min, kind index, lesson number) per slot; an evening-study slot of a
    school without evening study never matches but keeps the slot ordinals stable."""
    rows, lessons = [], 0
    for slot in timetable.slots:
        lessons += slot.kind == "lesson"
        kind = SLOT_KINDS.index(slot.kind)
        if slot.kind == "evening_study" and not timetable.evening_study:
            rows.append((0, 0, kind, 0))
            continue
        rows.append((slot.start_min, slot.end_min, kind, lessons if slot.kind == "lesson" else 0))
    return tuple(rows)


def stable_seed(*parts: object) -> int:
    """A 32-bit seed from strings/ints that is the same in every process (unlike hash())."""
    return zlib.crc32("\x1f".join(str(p) for p in parts).encode())


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


def mix64(keys: npt.NDArray[np.uint64], *salts: int) -> npt.NDArray[np.float64]:
    """Uniform [0,1) per key for the given salts (splitmix64 finaliser), vectorised."""
    with np.errstate(over="ignore"):
        z = keys.astype(np.uint64, copy=True)
        for s in salts:
            z = z + np.uint64(s & 0xFFFFFFFFFFFFFFFF) * _GOLD + _GOLD
            z = (z ^ (z >> np.uint64(30))) * _M1
            z = (z ^ (z >> np.uint64(27))) * _M2
            z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
