"""Friendly names → device ids, deterministically and reversibly.

Zigbee2MQTT friendly names group devices with '/' (`bldA/c308_env`), contain spaces or Chinese
(`三楼 走廊`); ids on the wire allow only [A-Za-z0-9_.:-]. The mapping keeps letters, digits,
'_' and '-', turns '/' into '.', and writes every other character as ':' + two hex digits per
UTF-8 byte (':' itself too), so `device_name(device_id(n)) == n` for every name. It lives in
the contract so every layer (ingest, twin, API) can show the original name of an id.
"""

from __future__ import annotations

import hashlib
import re

from contract.telemetry import ID_PATTERN

_ID_RE = re.compile(ID_PATTERN)
_KEEP = re.compile(r"[A-Za-z0-9_-]")
_LEAD = "u:-"  # marks an id whose name does not start with a letter or digit (':-' is no escape)
MAX_ID = 128


class DeviceNameError(ValueError):
    """A name that cannot become an id (empty)."""


def device_id(name: str) -> str:
    """The id for a friendly name; ids that are already valid and contain no '.'/':' stay as they are."""
    if not name:
        raise DeviceNameError("empty device name")
    if _ID_RE.match(name) and "." not in name and ":" not in name:
        return name
    out = []
    for ch in name:
        if ch == "/":
            out.append(".")
        elif _KEEP.match(ch):
            out.append(ch)
        else:
            out.append("".join(f":{b:02x}" for b in ch.encode("utf-8")))
    text = "".join(out)
    if not text[0].isalnum() or not text[0].isascii():
        text = _LEAD + text
    if len(text) > MAX_ID:  # not reversible any more: keep a readable head and a hash
        digest = hashlib.sha1(name.encode()).hexdigest()[:12]
        text = f"{text[: MAX_ID - 14].rstrip(':')}--{digest}"
    return text


def device_name(dev_id: str) -> str:
    """The friendly name an id came from (inverse of `device_id` for ids up to 128 characters)."""
    text = dev_id[len(_LEAD) :] if dev_id.startswith(_LEAD) else dev_id
    raw = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == ":" and i + 2 < len(text) and re.fullmatch(r"[0-9a-f]{2}", text[i + 1 : i + 3]):
            raw.append(int(text[i + 1 : i + 3], 16))
            i += 3
            continue
        raw.extend(b"/" if ch == "." else ch.encode())
        i += 1
    return raw.decode("utf-8", errors="replace")
