"""Codec: every raw type and byte order round-trips, and known wire examples decode right."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_profiles.codec import (
    BlockDecoder,
    EncodeError,
    decode_raw,
    decode_string,
    encode_point,
    encode_raw,
    encode_string,
)
from device_profiles.schema import DeviceProfile, RawType
from tests.support.budget import examples

ORDERS = ["ABCD", "DCBA", "BADC", "CDAB"]
INT_BOUNDS = {
    RawType.INT16: (-(2**15), 2**15 - 1),
    RawType.UINT16: (0, 2**16 - 1),
    RawType.INT32: (-(2**31), 2**31 - 1),
    RawType.UINT32: (0, 2**32 - 1),
    RawType.INT64: (-(2**63), 2**63 - 1),
    RawType.UINT64: (0, 2**64 - 1),
}


def test_known_float32_orders() -> None:
    # 0x41C80000 = 25.0; the four orders as printed in meter manuals
    wire = {
        "ABCD": [0x41C8, 0x0000],
        "CDAB": [0x0000, 0x41C8],
        "BADC": [0xC841, 0x0000],
        "DCBA": [0x0000, 0xC841],
    }
    for order, words in wire.items():
        assert decode_raw([words], RawType.FLOAT32, order)[0] == 25.0  # type: ignore[arg-type]
        assert encode_raw([25.0], RawType.FLOAT32, order)[0].tolist() == words  # type: ignore[arg-type]


def test_known_int32_and_int16() -> None:
    assert decode_raw([[0x0001, 0x86A0]], RawType.UINT32, "ABCD")[0] == 100000
    assert decode_raw([[0x86A0, 0x0001]], RawType.UINT32, "CDAB")[0] == 100000
    assert decode_raw([[0xFF9C]], RawType.INT16, "ABCD")[0] == -100  # -10.0 °C ×10 on a Renke sensor
    assert decode_raw([[0x9CFF]], RawType.INT16, "DCBA")[0] == -100
    # float64 pi, big-endian registers
    words = [int.from_bytes(struct.pack(">d", math.pi)[i : i + 2], "big") for i in range(0, 8, 2)]
    assert decode_raw([words], RawType.FLOAT64, "ABCD")[0] == math.pi
    assert decode_raw([words[::-1]], RawType.FLOAT64, "CDAB")[0] == math.pi


@settings(max_examples=examples(60), deadline=None)
@given(st.data())
def test_integer_round_trip(data: st.DataObject) -> None:
    raw_type = data.draw(st.sampled_from(list(INT_BOUNDS)))
    order = data.draw(st.sampled_from(ORDERS))
    lo, hi = INT_BOUNDS[raw_type]
    values = data.draw(st.lists(st.integers(lo, hi), min_size=1, max_size=8))
    words = encode_raw(values, raw_type, order)  # type: ignore[arg-type]
    assert words.dtype == np.uint16
    assert decode_raw(words, raw_type, order).tolist() == values  # type: ignore[arg-type]


@settings(max_examples=examples(60), deadline=None)
@given(st.sampled_from(ORDERS), st.sampled_from([RawType.FLOAT32, RawType.FLOAT64]), st.data())
def test_float_round_trip(order: str, raw_type: RawType, data: st.DataObject) -> None:
    width = 32 if raw_type is RawType.FLOAT32 else 64
    values = data.draw(st.lists(st.floats(width=width, allow_nan=False), min_size=1, max_size=8))
    out = decode_raw(encode_raw(values, raw_type, order), raw_type, order).tolist()  # type: ignore[arg-type]
    assert out == values


@settings(max_examples=examples(40), deadline=None)
@given(st.sampled_from(ORDERS), st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", max_size=20))
def test_string_round_trip(order: str, text: str) -> None:
    words = encode_string(text, 20, order)  # type: ignore[arg-type]
    assert len(words) == 10
    assert decode_string(words, 20, order) == text  # type: ignore[arg-type]


def _profile(points: list[dict[str, object]]) -> DeviceProfile:
    return DeviceProfile.model_validate(
        {"name": "t", "manufacturer": "m", "model": "m", "source": {"title": "test"}, "points": points}
    )


def test_block_decoder_scale_offset_bits_enum_nan() -> None:
    prof = _profile(
        [
            {
                "name": "t",
                "quantity": "temperature",
                "unit": "°C",
                "table": "holding_register",
                "address": 0,
                "type": "int16",
                "scale": 0.1,
                "offset": -40,
            },
            {
                "name": "alarm",
                "quantity": "status",
                "table": "holding_register",
                "address": 1,
                "type": "bit",
                "bit": 3,
            },
            {
                "name": "run",
                "quantity": "status",
                "table": "holding_register",
                "address": 1,
                "type": "bit",
                "bit": 0,
            },
            {
                "name": "mode",
                "quantity": "status",
                "table": "holding_register",
                "address": 2,
                "type": "uint16",
                "enum": {0: "off", 1: "on"},
            },
            {
                "name": "p",
                "quantity": "power",
                "unit": "W",
                "table": "holding_register",
                "address": 3,
                "type": "float32",
                "byte_order": "CDAB",
            },
        ]
    )
    nan = encode_raw([float("nan")], RawType.FLOAT32, "CDAB")[0].tolist()
    block = [650, 0b1000, 7, *nan]
    out = BlockDecoder(prof, prof.points, 0).decode(block)
    assert out["t"].value == pytest.approx(25.0)
    assert (out["alarm"].value, out["run"].value) == (1.0, 0.0)
    assert out["mode"].value == 7.0 and out["mode"].reason and "unknown code 7" in out["mode"].reason
    assert out["p"].value is None and out["p"].reason and "not a finite number" in out["p"].reason


def test_encode_point_checks_range_and_rounds() -> None:
    prof = _profile(
        [
            {
                "name": "h",
                "quantity": "humidity",
                "table": "holding_register",
                "address": 0,
                "type": "uint16",
                "scale": 0.1,
            }
        ]
    )
    assert encode_point(prof, prof.points[0], 55.26) == [553]
    with pytest.raises(EncodeError, match="outside uint16"):
        encode_point(prof, prof.points[0], -1.0)
    with pytest.raises(EncodeError, match="cannot be stored"):
        encode_point(prof, prof.points[0], float("nan"))
