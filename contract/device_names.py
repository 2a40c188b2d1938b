"""The contract's id rules (one owner) and friendly names → device ids, deterministically and
reversibly.

Ids of sites, agents and points are ASCII (`ID_PATTERN`: MQTT topic levels, InfluxDB measurement
and tag keys). Device ids are readable in the campus's own script (`DEVICE_ID_PATTERN`: letters
and digits of any script, `_ . : -`): a Zigbee2MQTT friendly name `教室101` is the id `教室101`.
Names group devices with '/' (`bldA/c308_env`) and contain spaces or `# +`; the mapping keeps
letters, digits, '_' and '-', turns '/' into '.', and writes every other character as ':' + two
hex digits per UTF-8 byte (':' itself too; `三楼 走廊` → `三楼:20走廊`), so
`device_name(device_id(n)) == n` for every name: the id is stable, and ingest stores the friendly
name beside it as the `name` tag. Lives in the contract so every layer (ingest, twin, API) can
show the original name of an id.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

# ASCII ids: site, agent, point (topic levels, measurement/tag keys).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
_ASCII_ID = re.compile(ID_PATTERN[1:-1]).fullmatch
MAX_ID = 128


def _letter_or_digit(ch: str) -> bool:
    """A letter (any script) or a decimal digit: Unicode categories L* and Nd, decided here once
    rather than by two regex engines' different `\\w`."""
    cat = unicodedata.category(ch)
    return cat[0] == "L" or cat == "Nd"


def is_device_id(text: str) -> bool:
    """A device id: ASCII ids plus the letters and digits of every script (`教室101`, `三楼:20走廊`)."""
    if _ASCII_ID(text) is not None:
        return True
    if not 0 < len(text) <= MAX_ID or not _letter_or_digit(text[0]):
        return False
    return all(ch in "_.:-" or _letter_or_digit(ch) for ch in text)


def _check_device_id(v: str) -> str:
    if not is_device_id(v):
        raise ValueError(
            f"{v!r} is not a valid device id (letters or digits of any script, then also _ . : -; "
            f"at most {MAX_ID} characters)"
        )
    return v


DeviceIdent = Annotated[str, AfterValidator(_check_device_id)]
_LEAD = "u:-"  # marks an id whose name does not start with a letter or digit (':-' is no escape)


class DeviceNameError(ValueError):
    """A name that cannot become an id (empty)."""


def device_id(name: str) -> str:
    """The id for a friendly name; ids that are already valid and contain no '.'/':' stay as they are."""
    if not name:
        raise DeviceNameError("empty device name")
    if is_device_id(name) and "." not in name and ":" not in name:
        return name
    out = []
    for ch in name:
        if ch == "/":
            out.append(".")
        elif ch in "_-" or _letter_or_digit(ch):
            out.append(ch)
        else:
            out.append("".join(f":{b:02x}" for b in ch.encode("utf-8")))
    text = "".join(out)
    if not _letter_or_digit(text[0]):
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
