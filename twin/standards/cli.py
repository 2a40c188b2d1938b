"""`campus-twin standards check SERIES.csv …`: judge any data logger's export against the
shipped standards, with the same engine as the report, live view and alerts.

    campus-twin standards check logger.csv --room-type general_classroom [--calendar FILE]
        [--timetable FILE] [--level junior] [--tz UTC] [--campus-tz Asia/Shanghai]
        [--encoding gbk] [--json]

The CSV has `ts,quantity,value[,point,role,presence]` (a header row is optional), UTF-8 (with
or without BOM) or GB18030/GBK as Excel saves it on a Chinese Windows. Timestamps are ISO 8601;
`--tz` is only the zone of timestamps without an offset — the bell, calendar days and seasons
follow the school's zone (`--campus-tz`, default the standards file's). A value outside the
quantity's plausible range (contract/quantities.yaml), NaN or inf is a refused row: counted and
listed on stderr, not judged. `presence` (0/1) on a row is a
presence reading at that time; rows of quantity `presence`/`occupancy` are too. Every period
from the first reading's local day to the last one's is evaluated. With `--json` the last line
is `{"rules": [{"id", "standard", "clause", "status", "measured", "share", "windows_ok",
"windows_total", "reason"}]}`.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contract.sensor_roles import SENSOR_ROLES

COLUMNS = ("ts", "quantity", "value", "point", "role", "presence")


class InputError(ValueError):
    """Bad input, named by file:line and field."""


LEVELS_HINT = "primary, junior, senior …"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "standards",
        help="Classroom environment standards (GB 7793, GB/T 18883, GB/T 17226, GB 50118).",
        description="标准核查 — check series against the classroom environment standards.",
    )
    s = p.add_subparsers(dest="standards_command", metavar="SUBCOMMAND")
    c = s.add_parser(
        "check",
        help="Judge a CSV export (ts,quantity,value[,point,role,presence]) against the standards.",
        description="Per-rule verdicts for a data logger's CSV export (ts,quantity,value[,point,role,presence]).",
    )
    c.add_argument("series", metavar="SERIES.csv")
    c.add_argument("--room-type", required=True, help="room type key, e.g. general_classroom")
    c.add_argument(
        "--calendar", metavar="FILE", help="school calendar 校历, YAML or CSV (terms, holidays, make_up_days)"
    )
    c.add_argument(
        "--timetable", metavar="FILE", help="school time YAML (bells, room types; default: shipped)"
    )
    c.add_argument("--standards", metavar="FILE", help="standards YAML (default: shipped)")
    c.add_argument(
        "--level", help=f"school level for the bell ({LEVELS_HINT}; default: the file's default bell)"
    )
    c.add_argument(
        "--tz",
        default=None,
        help="time zone of timestamps without offset only (default: the campus's); the bell keeps --campus-tz",
    )
    c.add_argument(
        "--campus-tz",
        default=None,
        help="the school's time zone: bell, calendar days, seasons (default: the standards file's)",
    )
    c.add_argument(
        "--encoding",
        default=None,
        help="encoding of the CSV (default: UTF-8 with/without BOM, else GB18030/GBK)",
    )
    c.add_argument("--json", action="store_true", help="last line: the verdicts as JSON")
    c.set_defaults(func=_run, _parser=c)
    p.set_defaults(_parser=p)


def _parse_ts(text: str, tz: ZoneInfo) -> int:
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    dt = datetime.fromisoformat(t)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return int(dt.timestamp() * 1000) * 1_000_000


_EPOCH = datetime(1970, 1, 1)


class _Clock:
    """`_parse_ts` for millions of rows: the previous text is reused (an export lists each time
    once per quantity) and a naive time's offset is looked up once per local hour."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self.last: tuple[str, int] = ("", 0)
        self.offsets: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        if text == self.last[0]:
            return self.last[1]
        dt = datetime.fromisoformat(text) if not text.endswith("Z") else None
        if dt is None or dt.tzinfo is not None:
            ns = _parse_ts(text, self.tz)
        else:
            hour = text[:13]
            off = self.offsets.get(hour)
            if off is None:  # DST folds and gaps keep the slow, exact path for their hour
                off = self.offsets[hour] = int(dt.replace(tzinfo=self.tz).utcoffset().total_seconds() * 10**6)  # type: ignore[union-attr]
            us = (dt - _EPOCH) // _US - off
            ns = us // 1000 * 1_000_000
        self.last = (text, ns)
        return ns


_US = timedelta(microseconds=1)


@dataclass
class Refused:
    """Rows left out of the judgement, counted and listed (the first few) — never silently."""

    rows: list[str]
    count: int = 0
    duplicates: int = 0  # rows repeating a point's timestamp (overlapping exports): counted once

    def add(self, line: str) -> None:
        self.count += 1
        if len(self.rows) < MAX_LISTED:
            self.rows.append(line)


MAX_LISTED = 10


def read_series(path: Path, tz: ZoneInfo, encoding: str | None = None, refused: Refused | None = None) -> Any:
    """Series from the CSV; raises InputError naming file:line and field. Values outside the
    quantity's plausible range (contract/quantities.yaml) and NaN/inf are refused rows: counted
    in `refused`, not judged. Readings are kept in typed arrays (8 bytes each) while reading."""
    from contract.quantities import catalogue, quantity_names
    from contract.textfile import TextFileError, detect

    refused = refused if refused is not None else Refused([])
    try:
        enc = detect(path, encoding)
    except TextFileError as exc:
        raise InputError(str(exc)) from None
    names = quantity_names()
    cat = catalogue()
    bounds: dict[str, tuple[float, float]] = {}
    for q in names:
        spec = cat.spec(q)
        lo, hi = spec.valid_min, spec.valid_max
        bounds[q] = (-math.inf if lo is None else lo, math.inf if hi is None else hi)
    with open(path, encoding=enc, newline="") as f:
        return _read_rows(path, csv.reader(f), tz, names, bounds, refused)


def _read_rows(
    path: Path,
    reader: Any,
    tz: ZoneInfo,
    names: frozenset[str],
    bounds: dict[str, tuple[float, float]],
    refused: Refused,
) -> Any:
    from array import array

    import numpy as np

    from contract.quantities import unknown_quantity_message
    from twin.standards.evaluator import Series

    raw: dict[tuple[str, str, str], tuple[array[int], array[float]]] = {}
    presence: tuple[array[int], array[float]] = (array("q"), array("d"))
    cols = list(COLUMNS)
    first = True
    clock = _Clock(tz)
    for lineno, row in enumerate(reader, start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().lstrip("\ufeff").startswith("#"):
            continue
        if first and _is_header(row, names):
            first = False
            cols = [c.strip().lower() for c in row]
            missing = [c for c in ("ts", "quantity", "value") if c not in cols]
            unknown = [c for c in cols if c not in COLUMNS]
            if missing or unknown:
                raise InputError(
                    f"{path}:{lineno}: header: expected columns {','.join(COLUMNS[:3])}[,{','.join(COLUMNS[3:])}]"
                    + (f"; missing {', '.join(missing)}" if missing else "")
                    + (f"; unknown {', '.join(unknown)}" if unknown else "")
                )
            continue
        first = False
        if len(row) > len(cols) or len(row) < 3:
            raise InputError(f"{path}:{lineno}: expected {','.join(cols)}, got {len(row)} fields")
        rec = dict(zip(cols, [c.strip() for c in row], strict=False))
        try:
            ts = clock(rec["ts"])
        except ValueError:
            raise InputError(f"{path}:{lineno}: ts: {rec['ts']!r} is not an ISO 8601 time") from None
        q = rec["quantity"]
        if q not in names:
            raise InputError(f"{path}:{lineno}: quantity: {unknown_quantity_message(q)}")
        if rec["value"] == "":
            continue  # a gap in the logger's export
        try:
            value = float(rec["value"])
        except ValueError:
            raise InputError(f"{path}:{lineno}: value: {rec['value']!r} is not a number") from None
        lo, hi = bounds[q]
        if not lo <= value <= hi:  # NaN fails both
            refused.add(f"{path}:{lineno}: {q} {rec['value']} outside {lo:g}..{hi:g}")
            continue
        role = rec.get("role") or ""
        if role and role not in SENSOR_ROLES:
            raise InputError(f"{path}:{lineno}: role: {role!r} is not one of {', '.join(SENSOR_ROLES)}")
        pres = rec.get("presence") or ""
        if pres:
            try:
                presence[1].append(float(pres))
            except ValueError:
                raise InputError(f"{path}:{lineno}: presence: {pres!r} is not 0/1") from None
            presence[0].append(ts)
        key = (q, rec.get("point") or q, role)
        arrays = raw.get(key)
        if arrays is None:
            arrays = raw[key] = (array("q"), array("d"))
        arrays[0].append(ts)
        arrays[1].append(value)
    for t, _v in raw.values():
        arr = np.frombuffer(t, dtype=np.int64)
        refused.duplicates += len(arr) - len(np.unique(arr))
    if len(presence[0]):
        raw.setdefault(("presence", "presence-column", ""), presence)
    if not raw:
        raise InputError(f"{path}: no readings" + (f" ({refused.count} refused)" if refused.count else ""))
    return [
        Series(
            point=p,
            quantity=q,
            ts=np.frombuffer(t, dtype=np.int64).copy(),
            values=np.frombuffer(v, dtype=np.float64).copy(),
            role=r or None,
            device="csv",
        )
        for (q, p, r), (t, v) in raw.items()
    ]


def _is_header(row: list[str], names: frozenset[str]) -> bool:
    """A first row that names columns (`ts,…`, or words where a quantity and a number belong,
    e.g. `time,sensor,reading`) is a header, checked against the expected columns."""
    cells = [c.strip().lstrip("\ufeff").lower() for c in row]
    if cells[0] == "ts":
        return True
    if len(cells) < 3 or cells[1] in names:
        return False
    try:
        float(cells[2])
    except ValueError:
        return True
    return False


def verdict_rows(verdicts: Sequence[Any]) -> list[dict[str, Any]]:
    """The JSON rows of the issue's contract (no_sensor is reported as not_applicable)."""
    out = []
    for v in verdicts:
        status = "not_applicable" if v.status == "no_sensor" else str(v.status)
        out.append(
            {
                "id": v.rule_id,
                "standard": v.standard,
                "clause": v.clause,
                "status": status,
                "measured": None if v.measured is None else round(v.measured, 3),
                "share": None if v.compliant_share is None else round(v.compliant_share, 4),
                "windows_ok": v.windows_compliant,
                "windows_total": v.windows_valid,
                "reason": None if v.reason is None else {"zh": v.reason.zh, "en": v.reason.en},
            }
        )
    return out


def check(args: argparse.Namespace, refused: Refused | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """(verdict rows, warnings to show)."""
    from contract.school_time import load_calendar, load_school_time
    from contract.yamlio import ConfigError
    from twin.rooms import load_rules
    from twin.standards import load_standards
    from twin.standards.engine import Engine

    types = load_rules().types
    if args.room_type not in types:
        raise InputError(f"--room-type: unknown {args.room_type!r}; known: {', '.join(sorted(types))}")
    try:
        standards = load_standards(args.standards)
        school = load_school_time(args.timetable)
        if args.calendar:
            school = school.model_copy(update={"calendar": load_calendar(args.calendar)})
    except ConfigError as exc:
        raise InputError(str(exc)) from None
    if args.level is not None and args.level not in school.level_bell:
        raise InputError(f"--level: unknown {args.level!r}; known: {', '.join(sorted(school.level_bell))}")
    zones = {}
    for opt, name in (("--tz", args.tz), ("--campus-tz", getattr(args, "campus_tz", None))):
        try:
            zones[opt] = ZoneInfo(name) if name else None
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError(f"{opt}: unknown time zone {name!r}") from None
    campus_tz = zones["--campus-tz"]
    if campus_tz is not None:  # the school's clock: bell, days, seasons
        standards = standards.model_copy(update={"timezone": args.campus_tz})
        school = school.model_copy(update={"timezone": args.campus_tz})
    tz = ZoneInfo(standards.timezone)
    series = read_series(Path(args.series), zones["--tz"] or tz, getattr(args, "encoding", None), refused)
    engine = Engine(standards, school, level=args.level)
    first = min(int(s.ts.min()) for s in series)
    last = max(int(s.ts.max()) for s in series)
    d0 = datetime.fromtimestamp(first // 10**9, tz).date()
    d1 = datetime.fromtimestamp(last // 10**9, tz).date() + timedelta(days=1)
    start = int(datetime(d0.year, d0.month, d0.day, tzinfo=tz).timestamp()) * 10**9
    end = int(datetime(d1.year, d1.month, d1.day, tzinfo=tz).timestamp()) * 10**9
    rows = verdict_rows(engine.evaluate_room(args.room_type, series, start, end))
    warnings = []
    notice = engine.calendar_notice(last)
    if notice:
        warnings.append(notice)
    return rows, warnings


def _run(args: argparse.Namespace) -> int:
    refused = Refused([])
    try:
        rows, warnings = check(args, refused)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if refused.count:
        print(
            f"warning: {refused.count} row(s) refused (implausible value, NaN or inf; not judged) / "
            f"{refused.count} 行数值不合理，未参与判定:",
            file=sys.stderr,
        )
        for line in refused.rows:
            print(f"  {line}", file=sys.stderr)
        if refused.count > len(refused.rows):
            print(f"  … and {refused.count - len(refused.rows)} more", file=sys.stderr)
    if refused.duplicates:
        print(
            f"note: {refused.duplicates} row(s) repeat a point's timestamp (overlapping exports?): "
            f"counted once, the last value / {refused.duplicates} 行时间重复，按最后一行计一次",
            file=sys.stderr,
        )
    zh = {
        "compliant": "达标",
        "non_compliant": "不达标",
        "not_applicable": "不适用",
        "insufficient_data": "数据不足",
        "no_calendar": "无校历",
    }
    for r in rows:
        share = (
            "" if r["share"] is None else f"  share {r['share']:.1%} ({r['windows_ok']}/{r['windows_total']})"
        )
        measured = "" if r["measured"] is None else f"  measured {r['measured']:g}"
        reason = "" if r["reason"] is None else f"  — {r['reason']['zh']} / {r['reason']['en']}"
        print(f"{r['id']:<32} {zh[r['status']]} {r['status']}{measured}{share}{reason}")
    if args.json:
        print(json.dumps({"rules": rows}, ensure_ascii=False))
    return 0
