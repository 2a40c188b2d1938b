"""Faults a simulated Modbus slave can show, as seen from the master's side of the wire.

- `timeout`: the slave never answers (also what an unplugged or powered-off device looks like;
  clearing the fault brings it back).
- `exception`: the slave answers with a Modbus exception code (2 illegal address, 4 device
  failure, 6 busy, 11 gateway target failed to respond, …).
- `garbled`: the answer arrives with corrupted bytes (RTU: CRC mismatch; TCP: an impossible
  byte count in the PDU).
- `short`: the answer is cut off half way (a slave reset mid-frame, a broken line).
- `delay`: the answer comes `delay_s` late (a slow slave; past the master's timeout it is a
  timeout that still costs bus time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["timeout", "exception", "garbled", "short", "delay"]
EXCEPTION_CODES = (1, 2, 3, 4, 5, 6, 7, 8, 10, 11)


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    code: int = 4  # for `exception`
    delay_s: float = 0.0  # for `delay`

    def __post_init__(self) -> None:
        if self.kind == "exception" and self.code not in EXCEPTION_CODES:
            raise ValueError(f"exception code {self.code} is not a Modbus exception code {EXCEPTION_CODES}")
        if self.kind == "delay" and not 0 < self.delay_s <= 60:
            raise ValueError("a delay fault needs 0 < delay_s <= 60")


def garble(packet: bytes, rtu: bool) -> bytes:
    """Corrupt a response frame so the master must reject it."""
    data = bytearray(packet)
    if rtu:
        data[-1] ^= 0xFF  # CRC no longer matches
        data[-2] ^= 0x5A
    elif len(data) > 8:
        data[8] = (data[8] + 0x7F) & 0xFF  # byte count that contradicts the frame length
    return bytes(data)


def shorten(packet: bytes) -> bytes:
    return packet[: max(1, len(packet) // 2)]
