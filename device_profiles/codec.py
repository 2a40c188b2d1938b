"""Register encoding and decoding, vectorised with numpy.

Decoding is the poller's hot path: a response block is decoded by gathering all points of
the same (type, order) into one (n, words) matrix and converting it with one numpy view,
instead of struct-unpacking point by point. Encoding is the simulator's side of the same
rules, so a round trip through both is an identity (tested with hypothesis).

Byte orders name the bytes of a 32-bit big-endian value A B C D as they appear on the wire;
for 16- and 64-bit values the same two rules apply: DCBA/BADC swap the two bytes inside each
register, DCBA/CDAB send the least significant register first. Strings only honour the byte
swap (no device reverses the registers of a string).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from device_profiles.schema import ByteOrder, DeviceProfile, Point, RawType

_BYTE_SWAP = {"ABCD": False, "DCBA": True, "BADC": True, "CDAB": False}
_WORD_SWAP = {"ABCD": False, "DCBA": True, "BADC": False, "CDAB": True}

_DTYPES: dict[RawType, str] = {
    RawType.INT16: ">i2",
    RawType.UINT16: ">u2",
    RawType.INT32: ">i4",
    RawType.UINT32: ">u4",
    RawType.INT64: ">i8",
    RawType.UINT64: ">u8",
    RawType.FLOAT32: ">f4",
    RawType.FLOAT64: ">f8",
}
_INT_RANGES: dict[RawType, tuple[int, int]] = {
    RawType.BIT: (0, 1),
    RawType.INT16: (-(2**15), 2**15 - 1),
    RawType.UINT16: (0, 2**16 - 1),
    RawType.INT32: (-(2**31), 2**31 - 1),
    RawType.UINT32: (0, 2**32 - 1),
    RawType.INT64: (-(2**63), 2**63 - 1),
    RawType.UINT64: (0, 2**64 - 1),
}


class EncodeError(ValueError):
    """A value that the point's raw type cannot hold (out of range, NaN into an integer)."""


def _canonical_bytes(
    words: npt.NDArray[np.uint16], order: ByteOrder, swap_words: bool = True
) -> npt.NDArray[np.uint8]:
    """(n, k) registers as they came off the wire → (n, 2k) bytes, most significant first."""
    w = np.ascontiguousarray(words, dtype=np.uint16)
    if swap_words and _WORD_SWAP[order]:
        w = w[:, ::-1]
    b = np.ascontiguousarray(w.astype(">u2")).view(np.uint8).reshape(w.shape[0], -1)
    if _BYTE_SWAP[order]:
        b = b.reshape(b.shape[0], -1, 2)[:, :, ::-1].reshape(b.shape[0], -1)
    return np.ascontiguousarray(b)


def _wire_words(
    data: npt.NDArray[np.uint8], order: ByteOrder, swap_words: bool = True
) -> npt.NDArray[np.uint16]:
    """Inverse of `_canonical_bytes`: (n, 2k) big-endian bytes → (n, k) registers on the wire."""
    b = np.ascontiguousarray(data, dtype=np.uint8)
    if _BYTE_SWAP[order]:
        b = np.ascontiguousarray(b.reshape(b.shape[0], -1, 2)[:, :, ::-1].reshape(b.shape[0], -1))
    w = b.view(">u2").astype(np.uint16)
    if swap_words and _WORD_SWAP[order]:
        w = w[:, ::-1]
    return np.ascontiguousarray(w)


def decode_raw(words: npt.ArrayLike, raw_type: RawType, order: ByteOrder = "ABCD") -> npt.NDArray[np.generic]:
    """(n, k) registers → n raw numbers of `raw_type` (not bit/string)."""
    w = np.asarray(words, dtype=np.uint16)
    if w.ndim == 1:
        w = w.reshape(1, -1)
    data = _canonical_bytes(w, order)
    return data.view(_DTYPES[raw_type]).reshape(w.shape[0])


def encode_raw(values: npt.ArrayLike, raw_type: RawType, order: ByteOrder = "ABCD") -> npt.NDArray[np.uint16]:
    """n raw numbers → (n, k) registers. Integers must already be in range (see encode_point)."""
    # straight to the target dtype: via float64 a 64-bit integer would lose its low bits
    arr = np.asarray(values, dtype=_DTYPES[raw_type]).reshape(-1)
    data = np.ascontiguousarray(arr).view(np.uint8).reshape(arr.shape[0], -1)
    return _wire_words(data, order)


def decode_string(words: npt.ArrayLike, length: int, order: ByteOrder = "ABCD") -> str:
    w = np.asarray(words, dtype=np.uint16).reshape(1, -1)
    data = _canonical_bytes(w, order, swap_words=False).reshape(-1)[:length].tobytes()
    return data.rstrip(b"\x00 ").decode("utf-8", errors="replace")


def encode_string(text: str, length: int, order: ByteOrder = "ABCD") -> npt.NDArray[np.uint16]:
    raw = text.encode("utf-8")
    if len(raw) > length:
        raise EncodeError(f"string of {len(raw)} bytes does not fit in {length}")
    padded = raw.ljust(2 * ((length + 1) // 2), b"\x00")
    return _wire_words(np.frombuffer(padded, dtype=np.uint8).reshape(1, -1), order, swap_words=False)[0]


# ---------------------------------------------------------------- points


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded point: `value` in the device's unit (str for strings), or None with a reason."""

    value: float | str | None
    raw: int | float | str | None
    reason: str | None = None


def value_to_raw(point: Point, value: float) -> int | float:
    """Engineering value → the raw number to store, rounded for integer types."""
    raw = (value - point.offset) / point.scale
    if point.type in (RawType.FLOAT32, RawType.FLOAT64):
        return raw
    if not math.isfinite(raw):
        raise EncodeError(f"point {point.name!r}: {value!r} cannot be stored as {point.type.value}")
    as_int = round(raw)
    lo, hi = _INT_RANGES[point.type]
    if not lo <= as_int <= hi:
        raise EncodeError(
            f"point {point.name!r}: {value} → raw {as_int} is outside {point.type.value} [{lo}, {hi}]"
        )
    return as_int


def encode_point(profile: DeviceProfile, point: Point, value: float | str) -> list[int]:
    """The registers (or, for coils/discrete inputs, 0/1 bits) that make `point` read `value`.

    A bit point in a register returns the single bit value; the caller merges it into the
    register (see `merge_bit`)."""
    order = profile.order_of(point)
    if point.type is RawType.STRING:
        return [int(x) for x in encode_string(str(value), point.length or 0, order)]
    raw = value_to_raw(point, float(value))
    if point.type is RawType.BIT:
        return [int(raw)]
    return [int(x) for x in encode_raw([raw], point.type, order)[0]]


def merge_bit(register: int, bit: int, on: int) -> int:
    return (register | (1 << bit)) if on else (register & ~(1 << bit) & 0xFFFF)


@dataclass(frozen=True, slots=True)
class _Group:
    raw_type: RawType
    order: ByteOrder
    points: tuple[Point, ...]
    index: npt.NDArray[np.intp]  # (n, k) offsets into the block


class BlockDecoder:
    """Decodes the points covered by one read request from its response block.

    Built once per (profile, request) so the per-poll work is a few numpy gathers."""

    def __init__(self, profile: DeviceProfile, points: Sequence[Point], start: int) -> None:
        self.start = start
        groups: dict[tuple[RawType, ByteOrder], list[Point]] = defaultdict(list)
        self._others: list[tuple[Point, int]] = []
        for p in points:
            offset = profile.protocol_address(p) - start
            if p.type in _DTYPES:
                groups[(p.type, profile.order_of(p))].append(p)
            else:
                self._others.append((p, offset))
        self._groups = [
            _Group(
                t,
                o,
                tuple(ps),
                np.array(
                    [
                        np.arange(
                            profile.protocol_address(p) - start, profile.protocol_address(p) - start + p.words
                        )
                        for p in ps
                    ],
                    dtype=np.intp,
                ),
            )
            for (t, o), ps in groups.items()
        ]
        self._orders = {p.name: profile.order_of(p) for p, _ in self._others}

    def decode(self, block: Sequence[int] | Sequence[bool] | npt.NDArray[np.generic]) -> dict[str, Decoded]:
        data = np.asarray(block)
        out: dict[str, Decoded] = {}
        for g in self._groups:
            raws = decode_raw(data[g.index].astype(np.uint16), g.raw_type, g.order)
            values = raws.astype(np.float64)
            for p, raw, val in zip(g.points, raws.tolist(), values.tolist(), strict=True):
                out[p.name] = _finish(p, raw, val * p.scale + p.offset)
        for p, offset in self._others:
            if p.type is RawType.STRING:
                text = decode_string(data[offset : offset + p.words], p.length or 0, self._orders[p.name])
                out[p.name] = Decoded(text, text)
            else:  # bit: a coil/discrete input, or one bit of a register
                word = int(data[offset])
                raw = (word >> p.bit) & 1 if p.bit is not None else int(bool(word))
                out[p.name] = _finish(p, raw, raw * p.scale + p.offset)
        return out


def _finish(point: Point, raw: int | float, value: float) -> Decoded:
    if not math.isfinite(value):
        return Decoded(None, raw, f"device sent {raw!r} (not a finite number)")
    if point.enum is not None and int(raw) not in point.enum:
        return Decoded(value, raw, f"unknown code {int(raw)} (enum knows {sorted(point.enum)})")
    return Decoded(value, raw)


def decode_point(profile: DeviceProfile, point: Point, block: Sequence[int], start: int) -> Decoded:
    """Convenience for one point; the poller uses BlockDecoder."""
    return BlockDecoder(profile, [point], start).decode(block)[point.name]
