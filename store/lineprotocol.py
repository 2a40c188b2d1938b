"""The InfluxDB schema of a reading and its line-protocol encoding (pure, no I/O).

Schema (docs/influx-schema.md): measurement = quantity (`co2`, `temperature`, …); tags =
`site, device, point, unit, agent, quality` plus the room tags `campus, building, storey, room,
room_number, room_type`; fields = `value` (float, absent when null) and `reason` (string, only
on a point that has a reason, is not good, or has no value — a line needs one field).
quality (3 values) and agent (one per gateway) are tags because dashboards filter on them and
their cardinality is bounded by the device count; a redelivery of a reading carries the same
agent and quality, so it still overwrites itself (same measurement + tag set + time).

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
from itertools import chain, repeat
from operator import is_, itemgetter

from contract.telemetry import GoodRows, Quality, Row, SeriesKey, as_rows
from store.base import StoredPoint

KEY_TAGS = ("site", "device", "point")
ROOM_TAGS = ("campus", "building", "storey", "room", "room_number", "room_type")
FIELDS = ("value", "reason")
READING_TAGS = ("unit", "agent", "quality")  # per reading, not per room
RESERVED_TAGS = frozenset((*KEY_TAGS, *READING_TAGS))


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


# Numbers as text: msgspec's JSON encoder writes the shortest text that reads back as the same
# float ("1e16" where repr says "1e+16"; InfluxDB parses both) and does a whole batch's values in
# one C call. Without msgspec (optional) repr, the same values. A float field never needs '.':
# line protocol marks integers with a trailing 'i'.
try:
    from msgspec.json import encode as _json_encode
except ImportError:  # pragma: no cover - exercised by an install without msgspec
    _json_encode = None  # type: ignore[assignment]


def format_float(value: float) -> str:
    if not math.isfinite(value):
        raise LineProtocolError(f"value {value!r} is not finite")
    return _json_encode(float(value)).decode() if _json_encode is not None else repr(float(value))


def _numbers(values: list[float] | list[int]) -> list[bytes]:
    """Each number's text (finite floats, ints), all made in one C call; `values` not empty."""
    if _json_encode is None:  # pragma: no cover
        return [repr(v).encode() for v in values]
    return _json_encode(values)[1:-1].split(b",")


def point_tags(p: StoredPoint) -> dict[str, str]:
    """The tag set of a point: series key, unit, agent, quality and non-empty room tags
    (reserved keys win over room tags of the same name)."""
    tags = {k: v for k, v in p.tags.items() if v and k not in RESERVED_TAGS}
    tags.update(site=p.key.site, device=p.key.device, point=p.key.point, unit=p.unit, quality=p.quality)
    if p.agent:
        tags["agent"] = p.agent
    return tags


def needs_reason(value: float | None, quality: str, reason: str | None) -> bool:
    """Whether a point carries the `reason` field: when it has one, is not good (so `count("reason")`
    counts bad points), or has no value (a line needs at least one field)."""
    return bool(reason) or quality != "good" or value is None


def encode_point(p: StoredPoint) -> str:
    """The reference encoding of one point (tests compare the fast row path against it)."""
    fields: dict[str, float | str] = {}
    if p.value is not None:
        fields["value"] = float(p.value)
    if needs_reason(p.value, p.quality, p.reason):
        fields["reason"] = p.reason or ""
    return _line(p.quantity, point_tags(p), fields, p.ts)


class LineEncoder:
    """Rows → lines, with the escaped `measurement,tags` prefix cached per series and quality,
    since a series' tags repeat on every point (the same text as `encode_point`, 5× faster)."""

    def __init__(self, max_cached: int = 200_000) -> None:
        self._prefix: dict[tuple[object, ...], str] = {}
        self._rows: dict[
            tuple[str, str, str, str, str, str, Quality], tuple[Mapping[str, str], str | None]
        ] = {}
        self._max = max_cached
        # (tag snapshot, {(site, agent): {(device, point, quantity, unit): prefix at quality good}})
        self._good: tuple[object, dict[tuple[str, str], dict[tuple[str, str, str, str], bytes]]] = (None, {})

    def prefix(
        self, quantity: str, key: SeriesKey, unit: str, agent: str, quality: str, tags: Mapping[str, str]
    ) -> str:
        """`measurement,tag=v,…` of a series at a quality (raises LineProtocolError)."""
        ck = (quantity, key, unit, agent, quality, tuple(tags.items()))
        prefix = self._prefix.get(ck)
        if prefix is None:
            all_tags = {k: v for k, v in tags.items() if v and k not in RESERVED_TAGS}
            all_tags.update(site=key.site, device=key.device, point=key.point, unit=unit, quality=quality)
            if agent:
                all_tags["agent"] = agent
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

    def plain_body(
        self,
        site: str,
        agent: str,
        rows: Sequence[Row] | GoodRows,
        tags: Mapping[tuple[str, str, str], Mapping[str, str]],
    ) -> bytes | None:
        """The request body (`prefix value=V T\\n` per row) when every row is plain (good, no
        reason, a finite value) and every series' prefix encodes, made at C speed: prefixes
        cached per tag snapshot (see `encode_rows`), values and times formatted in one call each,
        joined once. None: the row path decides (and rejects by name what cannot be encoded)."""
        if not rows or not (isinstance(rows, GoodRows) or _all_plain(rows)):
            return None
        gen = self._good
        if gen[0] is not tags:  # another tag snapshot: what was derived from the last one is void
            gen = self._good = (tags, {})
        groups = gen[1]
        cache = groups.get((site, agent))
        if cache is None:
            cache = groups[(site, agent)] = {}
        try:
            prefixes = list(map(cache.__getitem__, map(_GOOD_KEY, rows)))
        except KeyError:
            if len(cache) >= self._max:
                cache.clear()
            for device, point, quantity, unit in set(map(_GOOD_KEY, rows)).difference(cache):
                try:
                    prefix = self.prefix(
                        quantity,
                        SeriesKey(site, device, point),
                        unit,
                        agent,
                        "good",
                        tags[(site, device, point)],
                    )
                except LineProtocolError:
                    return None
                cache[(device, point, quantity, unit)] = prefix.encode() + b" value="
            prefixes = list(map(cache.__getitem__, map(_GOOD_KEY, rows)))
        values = _numbers(list(map(_VALUE, rows)))
        times = _numbers(list(map(_TS, rows)))
        return b"".join(chain.from_iterable(zip(prefixes, values, repeat(b" "), times, repeat(b"\n"))))

    def encode_rows(
        self,
        site: str,
        agent: str,
        rows: Sequence[Row] | GoodRows,
        tags: Mapping[tuple[str, str, str], Mapping[str, str]],
        reject: Callable[[str, str], None],
    ) -> list[str]:
        """Lines of validated contract rows, exactly as `encode_point` writes them, without an
        object per point. A row that cannot be encoded goes to `reject(text, reason)`.

        `tags` is read as a snapshot: the same mapping object handed again must hold the same
        tags for a series it held before (ingest hands one `RoomTagTable` per binding-table
        generation), so a batch whose readings are all plain (good, no reason, a finite value)
        costs one cached prefix per row, looked up at C speed."""
        plain = self.plain_body(site, agent, rows, tags)
        if plain is not None:
            return plain.decode().split("\n")[:-1]
        rows = as_rows(rows)
        # series prefixes persist across calls (a gateway's batch has a few hundred series, each
        # seen once per batch), keyed by what the prefix is made of; room tags compare by value
        cache = self._rows
        isfinite = math.isfinite
        out: list[str] = []
        append = out.append
        for row in rows:
            device, point, quantity, value, unit, ts, quality, reason = row
            ck = (site, agent, device, point, quantity, unit, quality)
            room = tags[(site, device, point)]
            hit = cache.get(ck)
            if hit is not None and (hit[0] is room or hit[0] == room):
                prefix: str | None = hit[1]
            else:
                try:
                    prefix = self.prefix(
                        quantity, SeriesKey(site, device, point), unit, agent, quality.value, room
                    )
                except LineProtocolError:
                    prefix = None
                if len(cache) >= self._max:
                    cache.clear()
                cache[ck] = (room, prefix)
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
                    encode_point(p)
                except LineProtocolError as exc:
                    reject(repr(p), f"cannot encode as line protocol: {exc}")
                    continue
                raise AssertionError("encode_rows and encode_point disagree")  # pragma: no cover
            if value is None:
                append(f"{prefix} reason={escape_string_field(reason or '')} {ts}")
            elif reason or quality is not Quality.GOOD:
                append(
                    f"{prefix} value={format_float(value)},reason={escape_string_field(reason or '')} {ts}"
                )
            else:
                append(f"{prefix} value={format_float(value)} {ts}")
        return out


_GOOD_KEY = itemgetter(0, 1, 2, 4)  # (device, point, quantity, unit): the prefix of a good row
_VALUE, _TS, _QUALITY, _REASON = itemgetter(3), itemgetter(5), itemgetter(6), itemgetter(7)


def _all_plain(rows: Sequence[Row]) -> bool:
    """Every row good, without a reason, with a finite value (checked at C speed)."""
    try:
        return (
            all(map(is_, map(_QUALITY, rows), repeat(Quality.GOOD)))
            and all(map(is_, map(_REASON, rows), repeat(None)))
            and all(map(math.isfinite, map(_VALUE, rows)))
        )
    except TypeError:  # a null value
        return False


def _line(measurement: str, tags: Mapping[str, str], fields: Mapping[str, float | str], ts: int) -> str:
    parts = [escape_measurement(measurement)]
    for k in sorted(tags):  # sorted tags are what Influx recommends for write performance
        parts.append(f"{escape_key(k, 'tag key')}={escape_key(tags[k], f'tag {k}')}")
    field_text = ",".join(
        f"{escape_key(k, 'field key')}=" + (escape_string_field(v) if isinstance(v, str) else format_float(v))
        for k, v in fields.items()
    )
    return f"{','.join(parts)} {field_text} {int(ts)}"
