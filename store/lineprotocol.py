"""The InfluxDB schema of a `StoredPoint` and its line-protocol encoding (pure, no I/O).

Schema (docs/influx-schema.md): measurement = quantity (`co2`, `temperature`, …); tags =
`site, device, point, unit` plus the room tags `campus, building, storey, room, room_number,
room_type`; fields = `value` (float, absent when null), `quality`, `reason`, `agent` (strings).
Why quality/reason/agent are fields, not tags: Influx identifies a point by measurement +
tag set + time, so anything that may differ between two deliveries of the same reading must
not be a tag, or a redelivery would create a second point instead of overwriting the first.

Escaping follows the line-protocol rules InfluxDB 1.x and 2.x agree on: in measurements
`,` and space; in tag keys, tag values and field keys `,` `=` and space; in string field
values `"` and `\\`. InfluxDB 1.x keeps a backslash in a tag value literally (and cannot
parse one at the end), 2.x unescapes it, so a tag containing a backslash or a line break
cannot be written the same way on both: it is refused with `LineProtocolError` (the caller
quarantines the point) instead of being silently altered.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from contract.telemetry import Quality, Row, SeriesKey
from store.base import StoredPoint

KEY_TAGS = ("site", "device", "point")
ROOM_TAGS = ("campus", "building", "storey", "room", "room_number", "room_type")
FIELDS = ("value", "quality", "reason", "agent")
RESERVED_TAGS = frozenset((*KEY_TAGS, "unit"))


class LineProtocolError(ValueError):
    """A point that cannot be expressed in line protocol without changing it."""


_MEASUREMENT_ESC = str.maketrans({",": "\\,", " ": "\\ "})
_KEY_ESC = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})
_STR_ESC = str.maketrans({'"': '\\"', "\\": "\\\\", "\n": " ", "\r": " "})
_FORBIDDEN_IN_KEYS = ("\\", "\n", "\r")


def escape_measurement(name: str) -> str:
    _check_key_text("measurement", name)
    return name.translate(_MEASUREMENT_ESC)


def escape_key(text: str, what: str = "tag") -> str:
    """Tag key, tag value or field key."""
    _check_key_text(what, text)
    return text.translate(_KEY_ESC)


def escape_string_field(text: str) -> str:
    """A string field value, including the surrounding quotes. Line breaks become spaces
    (InfluxDB 1.x has no escape for them; these are human-readable reasons)."""
    return '"' + text.translate(_STR_ESC) + '"'


def _check_key_text(what: str, text: str) -> None:
    if not text:
        raise LineProtocolError(f"{what} must not be empty")
    for ch in _FORBIDDEN_IN_KEYS:
        if ch in text:
            raise LineProtocolError(f"{what} {text!r} contains {ch!r}, which InfluxDB 1.x cannot store")


def format_float(value: float) -> str:
    if not math.isfinite(value):
        raise LineProtocolError(f"value {value!r} is not finite")
    text = repr(float(value))
    return text  # repr always has '.', 'e' or both, so Influx never infers an integer


def point_tags(p: StoredPoint) -> dict[str, str]:
    """The tag set of a point: series key, unit and non-empty room tags (reserved keys win)."""
    tags = {k: v for k, v in p.tags.items() if v and k not in RESERVED_TAGS}
    tags.update(site=p.key.site, device=p.key.device, point=p.key.point, unit=p.unit)
    return tags


def encode_point(p: StoredPoint) -> str:
    """One line: `quantity,tag=v,… value=…,quality="…",reason="…",agent="…" <ns>`."""
    return _line(p.quantity, point_tags(p), _fields(p), p.ts)


class LineEncoder:
    """`encode_point` with the escaped `measurement,tags` prefix cached per series, since a
    series' tags repeat on every point (the encoding is the same; it is 5× faster)."""

    def __init__(self, max_cached: int = 200_000) -> None:
        self._prefix: dict[tuple[object, ...], str] = {}
        self._max = max_cached

    def prefix(self, quantity: str, key: SeriesKey, unit: str, tags: Mapping[str, str]) -> str:
        """`measurement,tag=v,…` of a series (raises LineProtocolError)."""
        ck = (quantity, key, unit, tuple(tags.items()))
        prefix = self._prefix.get(ck)
        if prefix is None:
            all_tags = {k: v for k, v in tags.items() if v and k not in RESERVED_TAGS}
            all_tags.update(site=key.site, device=key.device, point=key.point, unit=unit)
            prefix = ",".join(
                [escape_measurement(quantity)]
                + [
                    f"{escape_key(k, 'tag key')}={escape_key(all_tags[k], f'tag {k}')}"
                    for k in sorted(all_tags)
                ]
            )
            if len(self._prefix) >= self._max:
                self._prefix.clear()
            self._prefix[ck] = prefix
        return prefix

    def encode(self, p: StoredPoint) -> str:
        prefix = self.prefix(p.quantity, p.key, p.unit, p.tags)
        value = "" if p.value is None else f"value={format_float(p.value)},"
        fields = (
            f"{value}quality={escape_string_field(p.quality)},reason={escape_string_field(p.reason or '')}"
        )
        if p.agent:
            fields += f",agent={escape_string_field(p.agent)}"
        return f"{prefix} {fields} {int(p.ts)}"

    def encode_all(self, points: Sequence[StoredPoint], reject: Callable[[str, str], None]) -> list[str]:
        """Lines of the encodable points; each other point goes to `reject(repr(point), reason)`."""
        lines: list[str] = []
        for p in points:
            try:
                lines.append(self.encode(p))
            except LineProtocolError as exc:
                reject(repr(p), f"cannot encode as line protocol: {exc}")
        return lines

    def encode_rows(
        self,
        site: str,
        agent: str,
        rows: Sequence[Row],
        tags: Mapping[tuple[str, str, str], Mapping[str, str]],
        reject: Callable[[str, str], None],
    ) -> list[str]:
        """Lines of validated contract rows, exactly as `encode` writes their `StoredPoint`s,
        without building one per point. A row that cannot be encoded goes to `reject`
        exactly as in `encode_all`."""
        prefixes: dict[tuple[str, str, str, str], str | None] = {}
        agent_field = f",agent={escape_string_field(agent)}" if agent else ""
        quality_text = {q: escape_string_field(q.value) for q in Quality}
        isfinite = math.isfinite
        out: list[str] = []
        append = out.append
        for row in rows:
            device, point, quantity, value, unit, ts, quality, reason = row
            pk = (device, point, quantity, unit)
            prefix = prefixes.get(pk, "")
            if prefix == "":
                try:
                    prefix = self.prefix(
                        quantity, SeriesKey(site, device, point), unit, tags[(site, device, point)]
                    )
                except LineProtocolError:
                    prefix = None
                prefixes[pk] = prefix
            if prefix is None or (value is not None and not isfinite(value)):
                p = StoredPoint(
                    SeriesKey(site, device, point),
                    ts,
                    value,
                    quantity,
                    unit,
                    quality.value,
                    reason,
                    agent,
                    tags[(site, device, point)],
                )
                try:
                    self.encode(p)
                except LineProtocolError as exc:
                    reject(repr(p), f"cannot encode as line protocol: {exc}")
                    continue
                raise AssertionError("encode_rows and encode disagree")  # pragma: no cover
            r = escape_string_field(reason) if reason else '""'
            if value is None:
                append(f"{prefix} quality={quality_text[quality]},reason={r}{agent_field} {ts}")
            else:
                append(
                    f"{prefix} value={value!r},quality={quality_text[quality]},reason={r}{agent_field} {ts}"
                )
        return out


def _fields(p: StoredPoint) -> Mapping[str, float | str]:
    fields: dict[str, float | str] = {}
    if p.value is not None:
        fields["value"] = float(p.value)
    fields["quality"] = p.quality
    fields["reason"] = p.reason or ""  # always written, so an overwrite clears an old reason
    if p.agent:
        fields["agent"] = p.agent
    return fields


def _line(measurement: str, tags: Mapping[str, str], fields: Mapping[str, float | str], ts: int) -> str:
    parts = [escape_measurement(measurement)]
    for k in sorted(tags):  # sorted tags are what Influx recommends for write performance
        parts.append(f"{escape_key(k, 'tag key')}={escape_key(tags[k], f'tag {k}')}")
    field_text = ",".join(
        f"{escape_key(k, 'field key')}=" + (escape_string_field(v) if isinstance(v, str) else format_float(v))
        for k, v in fields.items()
    )
    return f"{','.join(parts)} {field_text} {int(ts)}"
