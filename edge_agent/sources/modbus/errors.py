"""Why a read failed, in words an operator can act on (pure functions, no I/O).

pymodbus reports a missing, short, garbled or CRC-failing answer all as "no response"; the
poller records the raw bytes that did arrive and these functions tell the cases apart.
"""

from __future__ import annotations

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "slave device failure",
    5: "acknowledge",
    6: "slave device busy",
    7: "negative acknowledge",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


def exception_reason(code: int) -> str:
    return f"modbus exception {code} ({EXCEPTION_NAMES.get(code, 'unknown code')})"


def crc16(data: bytes) -> bytes:
    """Modbus RTU CRC-16 (poly 0xA001, init 0xFFFF), low byte first as on the wire."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


def _hex(data: bytes, limit: int = 16) -> str:
    text = data[:limit].hex(" ")
    return text + (" …" if len(data) > limit else "")


def no_answer_reason(received: bytes, rtu: bool, timeout_s: float) -> str:
    """The reason for a request that produced no usable response within `timeout_s`."""
    if not received:
        return f"timeout after {timeout_s:g}s (no response)"
    if rtu:
        expected = _rtu_expected_length(received)
        if expected is not None and len(received) < expected:
            return f"short response ({len(received)} of {expected} bytes: {_hex(received)})"
        if len(received) >= 4 and crc16(received[:-2]) != received[-2:]:
            return f"CRC error in response ({len(received)} bytes: {_hex(received)})"
        return f"garbled response ({len(received)} bytes: {_hex(received)})"
    if len(received) >= 6:
        expected = 6 + int.from_bytes(received[4:6], "big")
        if len(received) < expected:
            return f"short response ({len(received)} of {expected} bytes: {_hex(received)})"
    else:
        return f"short response ({len(received)} bytes: {_hex(received)})"
    return f"garbled response ({len(received)} bytes: {_hex(received)})"


def _rtu_expected_length(frame: bytes) -> int | None:
    if len(frame) < 2:
        return 5  # cannot even see the function code: anything shorter than an exception frame
    if frame[1] & 0x80:
        return 5  # unit, function|0x80, code, crc(2)
    if frame[1] in (1, 2, 3, 4):
        return 5 + frame[2] if len(frame) >= 3 else 5
    return None


def hint(reason: str, rtu: bool) -> str | None:
    """The classic mistake behind a failure reason, as advice; None when there is no good guess."""
    r = reason
    if "refused the settings" in r:
        return (
            "the port or its adapter does not support these settings: check parity, stop bits and "
            "baud rate against the devices' labels and the adapter (a pty or some USB adapters "
            "support no parity)"
        )
    if "EACCES" in r or "EPERM" in r:
        return "is the user in the dialout group? (sudo usermod -aG dialout campus-twin)"
    if "ENOENT" in r:
        return "serial adapter unplugged or wrong port name (ls /dev/serial/by-id/)"
    if "ECONNREFUSED" in r:
        return "nothing listens on that port: check the gateway's IP/port and that it is in Modbus mode"
    if "EHOSTUNREACH" in r or "ENETUNREACH" in r or "connect timed out" in r:
        return "host not reachable: check the network, VLAN and the gateway's IP address"
    if r.startswith("CRC error") or r.startswith("garbled"):
        return "check baud rate and parity (or two devices with the same unit id on the line)"
    if "wrong unit id" in r:
        return "two devices with the same unit id on the line?"
    if r.startswith("modbus exception 2"):
        return "register not in this device: check the profile and the firmware version"
    if (
        r.startswith("modbus exception 4")
        or r.startswith("modbus exception 11")
        or r.startswith("modbus exception 10")
    ):
        return "check the unit id (a gateway answers this way for an absent unit)"
    if r.startswith("timeout"):
        return (
            "check wiring, unit id, baud rate/parity"
            if rtu
            else "check the unit id and that the device is powered"
        )
    if "outside valid range" in r:
        return "check byte order / word order and scale in the profile"
    return None
