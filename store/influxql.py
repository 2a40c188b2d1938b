"""InfluxQL text for the store's reads, built only from quoted identifiers and literals (pure).

Every name that comes from outside (tag keys, tag values, database names) goes through
`ident` (double quotes, `\\` and `"` escaped) or `literal` (single quotes, `\\` `'` and line
breaks escaped); numbers are formatted from ints. No caller-supplied text is ever pasted into
a query raw, so `building = "A' OR 1=1"` is just a building nobody has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from contract.telemetry import SeriesKey
from store.base import Agg

_IDENT_ESC = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})
_LITERAL_ESC = str.maketrans({"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r"})

AGG_FUNC = {Agg.MEAN: "mean", Agg.MIN: "min", Agg.MAX: "max", Agg.LAST: "last", Agg.COUNT: "count"}
ALL_MEASUREMENTS = "/.*/"  # a fixed regex: the series key, not the measurement, selects data


def ident(name: str) -> str:
    return '"' + name.translate(_IDENT_ESC) + '"'


def literal(text: str) -> str:
    return "'" + text.translate(_LITERAL_ESC) + "'"


def tag_equals(tags: Mapping[str, str]) -> str:
    """`"k" = 'v' AND …` (sorted, so the text is deterministic); empty for no tags."""
    if not tags:
        return ""
    return " AND ".join(f"{ident(k)} = {literal(v)}" for k, v in sorted(tags.items()))


def key_condition(key: SeriesKey) -> str:
    return tag_equals({"site": key.site, "device": key.device, "point": key.point})


def latest_query(keys: Sequence[SeriesKey] | None = None, tags: Mapping[str, str] | None = None) -> str:
    """Newest row of every tag set (LIMIT applies per series with GROUP BY *)."""
    conds = []
    if keys is not None:
        conds.append("(" + " OR ".join(f"({key_condition(k)})" for k in keys) + ")")
    if tags:
        conds.append(f"({tag_equals(tags)})")
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    return f"SELECT * FROM {ALL_MEASUREMENTS}{where} GROUP BY * ORDER BY time DESC LIMIT 1"


def range_query(key: SeriesKey, start: int, end: int, every: int | None, agg: Agg, origin: int = 0) -> str:
    """`origin` in [0, every): windows start at origin + k·every (InfluxQL's time(every, offset))."""
    bounds = f"time >= {int(start)} AND time < {int(end)}"
    where = f"{key_condition(key)} AND {bounds}"
    if every is None:
        # quality is a tag (points written before the tag schema have it as a field: quality_1);
        # "reason" is selected because a point without a value has only that field
        return (
            f'SELECT "value", "reason", "quality"::tag, "quality"::field FROM {ALL_MEASUREMENTS}'
            f" WHERE {where} ORDER BY time"
        )
    func = AGG_FUNC[Agg(agg)]
    # the quality tag drops bad points before aggregation; points with a null value have no
    # "value" field and so never take part.
    return (
        f'SELECT {func}("value"), count("value") FROM {ALL_MEASUREMENTS}'
        f" WHERE {where} AND \"quality\"::tag != 'bad'"
        f" GROUP BY time({int(every)}ns{f', {int(origin)}ns' if origin else ''}) fill(none) ORDER BY time"
    )


class QueryError(RuntimeError):
    pass


def result_series(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The `series` of the single statement in an InfluxQL JSON response; raises on errors."""
    if "error" in doc:
        raise QueryError(str(doc["error"]))
    results = doc.get("results") or []
    out: list[dict[str, Any]] = []
    for res in results:
        if "error" in res:
            raise QueryError(str(res["error"]))
        out.extend(res.get("series") or [])
    return out


def rows(series: Mapping[str, Any]) -> list[dict[str, Any]]:
    cols = list(series.get("columns") or [])
    return [dict(zip(cols, v, strict=False)) for v in series.get("values") or []]
