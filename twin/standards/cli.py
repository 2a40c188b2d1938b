"""`campus-twin standards check SERIES.csv …`: judge any data logger's export against the
shipped standards, with the same engine as the report, live view and alerts.

    campus-twin standards check logger.csv --room-type general_classroom [--calendar FILE]
        [--timetable FILE] [--tz Asia/Shanghai] [--json]

The CSV has `ts,quantity,value[,point,role,presence]` (a header row is optional). Timestamps
are ISO 8601, local (`--tz`) when they carry no offset. `presence` (0/1) on a row is a
presence reading at that time; rows of quantity `presence`/`occupancy` are too. Every period
from the first reading's local day to the last one's is evaluated. With `--json` the last line
is `{"rules": [{"id", "standard", "clause", "status", "measured", "share", "windows_ok",
"windows_total", "reason"}]}`.
"""

from __future__ import annotations

import argparse
import csv
import json
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
    c.add_argument("--calendar", metavar="FILE", help="school calendar YAML (terms, holidays, make_up_days)")
    c.add_argument(
        "--timetable", metavar="FILE", help="school time YAML (bells, room types; default: shipped)"
    )
    c.add_argument("--standards", metavar="FILE", help="standards YAML (default: shipped)")
    c.add_argument("--level", help="school level for the bell (primary, junior, senior …)")
    c.add_argument(
        "--tz", default=None, help="time zone of timestamps without offset (default: the standards')"
    )
    c.add_argument("--json", action="store_true", help="last line: the verdicts as JSON")
    c.set_defaults(func=_run, _parser=c)
    p.set_defaults(_parser=p)


@dataclass
class Rows:
    series: dict[tuple[str, str, str], tuple[list[int], list[float]]]


def _parse_ts(text: str, tz: ZoneInfo) -> int:
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    dt = datetime.fromisoformat(t)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return int(dt.timestamp() * 1000) * 1_000_000


def read_series(path: Path, tz: ZoneInfo) -> Any:
    """Series from the CSV; raises InputError naming file:line and field."""
    import numpy as np

    from twin.standards.evaluator import Series

    raw: dict[tuple[str, str, str], tuple[list[int], list[float]]] = {}
    presence: tuple[list[int], list[float]] = ([], [])
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    reader = csv.reader(text.splitlines())
    cols = list(COLUMNS)
    for lineno, row in enumerate(reader, start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if lineno == 1 and row[0].strip().lower() == "ts":
            cols = [c.strip().lower() for c in row]
            missing = {"ts", "quantity", "value"} - set(cols)
            unknown = set(cols) - set(COLUMNS)
            if missing or unknown:
                raise InputError(
                    f"{path}:1: header: needs ts,quantity,value[,point,role,presence]"
                    + (f"; missing {sorted(missing)}" if missing else "")
                    + (f"; unknown {sorted(unknown)}" if unknown else "")
                )
            continue
        if len(row) > len(cols) or len(row) < 3:
            raise InputError(f"{path}:{lineno}: expected {','.join(cols)}, got {len(row)} fields")
        rec = dict(zip(cols, (c.strip() for c in row), strict=False))
        try:
            ts = _parse_ts(rec["ts"], tz)
        except ValueError:
            raise InputError(f"{path}:{lineno}: ts: {rec['ts']!r} is not an ISO 8601 time") from None
        q = rec["quantity"]
        from contract.quantities import quantity_names, unknown_quantity_message

        if q not in quantity_names():
            raise InputError(f"{path}:{lineno}: quantity: {unknown_quantity_message(q)}")
        if rec["value"] == "":
            continue  # a gap in the logger's export
        try:
            value = float(rec["value"])
        except ValueError:
            raise InputError(f"{path}:{lineno}: value: {rec['value']!r} is not a number") from None
        role = rec.get("role") or ""
        if role and role not in SENSOR_ROLES:
            raise InputError(f"{path}:{lineno}: role: {role!r} is not one of {', '.join(SENSOR_ROLES)}")
        pres = rec.get("presence") or ""
        if pres:
            try:
                presence[0].append(ts)
                presence[1].append(float(pres))
            except ValueError:
                raise InputError(f"{path}:{lineno}: presence: {pres!r} is not 0/1") from None
        key = (q, rec.get("point") or q, role)
        raw.setdefault(key, ([], []))
        raw[key][0].append(ts)
        raw[key][1].append(value)
    if presence[0]:
        raw.setdefault(("presence", "presence-column", ""), presence)
    if not raw:
        raise InputError(f"{path}: no readings")
    return [
        Series(
            point=p,
            quantity=q,
            ts=np.array(t, dtype=np.int64),
            values=np.array(v),
            role=r or None,
            device="csv",
        )
        for (q, p, r), (t, v) in raw.items()
    ]


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


def check(args: argparse.Namespace) -> list[dict[str, Any]]:
    from contract.school_time import SchoolCalendar, load_school_time
    from contract.yamlio import load_model
    from twin.rooms import load_rules
    from twin.standards import load_standards
    from twin.standards.engine import Engine

    types = load_rules().types
    if args.room_type not in types:
        raise InputError(f"--room-type: unknown {args.room_type!r}; known: {', '.join(sorted(types))}")
    standards = load_standards(args.standards)
    school = load_school_time(args.timetable)
    if args.calendar:
        school = school.model_copy(update={"calendar": load_model(SchoolCalendar, args.calendar)})
    try:
        tz = ZoneInfo(args.tz or standards.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"--tz: unknown time zone {args.tz!r}") from None
    if args.tz:
        standards = standards.model_copy(update={"timezone": args.tz})
        school = school.model_copy(update={"timezone": args.tz})
    series = read_series(Path(args.series), tz)
    engine = Engine(standards, school, level=args.level)
    first = min(int(s.ts.min()) for s in series)
    last = max(int(s.ts.max()) for s in series)
    d0 = datetime.fromtimestamp(first // 10**9, tz).date()
    d1 = datetime.fromtimestamp(last // 10**9, tz).date() + timedelta(days=1)
    start = int(datetime(d0.year, d0.month, d0.day, tzinfo=tz).timestamp()) * 10**9
    end = int(datetime(d1.year, d1.month, d1.day, tzinfo=tz).timestamp()) * 10**9
    return verdict_rows(engine.evaluate_room(args.room_type, series, start, end))


def _run(args: argparse.Namespace) -> int:
    try:
        rows = check(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    zh = {
        "compliant": "达标",
        "non_compliant": "不达标",
        "not_applicable": "不适用",
        "insufficient_data": "数据不足",
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
