"""`campus-twin report …`: indicator reports for a jurisdiction (XLSX, CSV, JSON, HTML).

    campus-twin report --twin twin.yaml --sqlite data/campus.db \\
        --period 2026-09-01..2026-11-30 --roster roster.yaml --inputs inputs.yaml --out report.xlsx
    campus-twin report --twin twin.yaml --store-config ingest.yaml …
    campus-twin report --roster roster.yaml --inputs inputs.csv --period … --out report.xlsx

Every source is optional but the roster (or a twin to stand in for it): roster + inputs alone
make every form; BIM models (--twin) and the store (--sqlite/--store-config) add what they
measure, and each figure names where it came from.

The roster (every school of the jurisdiction and its level: city, district or school) is the
denominator of every share and decides at which level targets are judged; the inputs file
holds the dated, sourced figures people enter (enrolment, classes, bandwidth, designations,
lighting surveys). The XLSX has the plan sheet, the operational sheet, the 护眼 sheets and
the Guangxi form sheets (学校基本信息, 区域内中小学校简况); JSON carries the same content.

The format follows the extension of --out. The store is the ingest SQLite file (`--sqlite`)
or whatever store a config selects (`--store-config`: the `store:` section of an ingest or API
config — SQLite, InfluxDB 1.x or 2.x — read by `store.config.load_store_section` and opened
through `store.factory`, credentials by reference). Thresholds, indicator definitions and the timetable are the shipped YAML
files unless given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from store.base import Store

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="Indicator report for a period (format from --out extension: .xlsx .csv .json .html).",
        description="Indicator report (指标报告) of a city, district or school over a period: plan indicators, "
        "operational figures, 护眼 and the Guangxi form sheets, from the twin, the store, a roster and manual inputs.",
    )
    p.add_argument(
        "--twin",
        metavar="CONFIG",
        help="twin config YAML (campuses, IFC, bindings); optional: schools without a model are reported "
        "from the roster and inputs",
    )
    store = p.add_mutually_exclusive_group()
    store.add_argument("--sqlite", metavar="PATH", help="ingest SQLite store file")
    store.add_argument(
        "--store-config",
        metavar="FILE",
        help="config YAML (ingest or api) whose 'store:' section selects the store (sqlite, influxdb, influxdb2)",
    )
    p.add_argument(
        "--period", required=True, metavar="FROM..TO", help="local dates, e.g. 2026-09-01..2026-11-30"
    )
    p.add_argument("--out", required=True, metavar="FILE", help="report.xlsx | .csv | .json | .html")
    p.add_argument(
        "--roster",
        metavar="YAML",
        help="every school of the jurisdiction (id, name, type, district) and its level; without it every "
        "share is over the loaded schools only (reported as a problem)",
    )
    p.add_argument(
        "--inputs",
        action="append",
        metavar="FILE",
        help="manual inputs: dated, sourced figures per school (.yaml, or .csv for school rows); repeatable",
    )
    p.add_argument("--forms", metavar="YAML", help="form field definitions (default: shipped)")
    p.add_argument("--indicators", metavar="YAML", help="indicator definitions (default: shipped)")
    p.add_argument(
        "--plan",
        action="append",
        metavar="YAML",
        help="another region's indicator table as data ({documents, plan_indicators}); repeatable; "
        "needs --plans-dir: its quotations are checked against the documents first",
    )
    p.add_argument(
        "--plans-dir",
        metavar="DIR",
        help="plain-text copies of the plan documents (e.g. ../shared/plans): quotations of --plan are checked",
    )
    p.add_argument("--standards", metavar="YAML", help="standards thresholds (default: shipped)")
    p.add_argument(
        "--timetable",
        metavar="YAML",
        help="school time: bells, calendar, room use (default: contract/school_time.yaml)",
    )
    p.add_argument("--interval", type=float, metavar="S", help="expected reading interval per series (s)")
    p.add_argument("--year", type=int, help="report year for judging targets (default: year of period end)")
    p.set_defaults(func=_run, _parser=p)


def _open_store(args: argparse.Namespace) -> Store | str:
    """The store named on the command line, or the message why it cannot be opened."""
    from contract.yamlio import ConfigError
    from store.config import SqliteStoreConfig, load_store_section
    from store.factory import open_store

    if args.sqlite is not None:
        cfg: Any = SqliteStoreConfig(path=Path(args.sqlite))
        where = f"--sqlite {args.sqlite}"
    else:
        if not Path(args.store_config).is_file():
            return f"--store-config {args.store_config}: no such file"
        try:
            cfg = load_store_section(args.store_config)
        except ConfigError as exc:
            return str(exc)
        where = f"--store-config {args.store_config}: store ({cfg.type})"
    if isinstance(cfg, SqliteStoreConfig) and not cfg.path.is_file():
        # opening would create an empty store and report zeros
        return f"{where}: no such file {cfg.path}"
    try:
        return open_store(cfg)
    except (OSError, ValueError) as exc:  # e.g. an unset secret env var: named, never printed
        return f"{where}: {exc}"


def _run(args: argparse.Namespace) -> int:
    from twin.config import load_twin
    from twin.indicators import load_indicators
    from twin.indicators.build import build_report, roster_of
    from twin.indicators.facts import period_ns
    from twin.indicators.forms import load_forms
    from twin.indicators.inputs import ManualInputs
    from twin.indicators.loading import load_inputs, load_roster
    from twin.indicators.writers import FORMATS, write_report
    from twin.standards import load_standards
    from twin.standards.occupancy import load_timetable

    out = Path(args.out)
    if out.suffix.lower() not in FORMATS:
        print(
            f"--out {out}：不支持的格式 {out.suffix!r}，请用 {'、'.join(FORMATS)} | unknown format "
            f"{out.suffix!r}; use one of {', '.join(FORMATS)}",
            file=sys.stderr,
        )
        return 2
    cfg = load_indicators(args.indicators)
    if args.plan:
        if not args.plans_dir:
            print(
                "--plan 需要 --plans-dir（核对引文）| --plan needs --plans-dir to check its quotations",
                file=sys.stderr,
            )
            return 2
        from twin.indicators import add_plan_set
        from twin.indicators.citations import check_citations

        for plan in args.plan:
            before = {i.id for i in cfg.plan_indicators}
            cfg = add_plan_set(cfg, plan)
            added = {i.id for i in cfg.plan_indicators} - before
            bad = check_citations(cfg, Path(args.plans_dir), only=added)
            if bad:
                from contract.yamlio import ConfigError
                from twin.indicators.messages import problem as say

                fix_zh = "按原文逐字引用（原文乱序处用 printed 片段）"
                fix_en = "quote the document as written (printed: fragments where scrambled)"
                lines = []
                for name, why in bad:
                    zh, _, en = why.partition(" | ")
                    lines.append(say(plan, name, zh, en, fix_zh, fix_en))
                raise ConfigError(plan, lines)
    forms = load_forms(args.forms)
    standards = load_standards(args.standards)
    timetable = load_timetable(args.timetable)
    try:
        start, end = period_ns(args.period, standards.timezone)
    except ValueError as exc:
        print(
            f"--period：报告期应写作 起始日期..结束日期（如 2026-09-01..2026-11-30）| {exc}", file=sys.stderr
        )
        return 2
    d0, d1 = (dt.date.fromisoformat(x.strip()) for x in args.period.split(".."))
    year = args.year or d1.year
    if not args.twin and not args.roster:
        print("需要 --roster（学校名录）或 --twin | give --roster (every school) or --twin", file=sys.stderr)
        return 2
    # a bad roster or inputs file raises ConfigError (file:line:col: 字段 …), printed by the CLI
    roster = load_roster(args.roster) if args.roster else None
    campuses = load_twin(args.twin) if args.twin else []
    roster = roster or roster_of(campuses)
    inputs = load_inputs(args.inputs, roster, cfg, (d0, d1)) if args.inputs else ManualInputs()
    store = _open_store(args) if args.sqlite or args.store_config else None
    if isinstance(store, str):
        print(store, file=sys.stderr)
        return 2
    try:
        rep = build_report(
            campuses,
            store,
            start,
            end,
            period=args.period,
            year=year,
            roster=roster,
            inputs=inputs,
            indicators=cfg,
            forms=forms,
            standards=standards,
            timetable=timetable,
            interval_s=args.interval,
            now_ns=time.time_ns(),
        )
    finally:
        if store is not None:
            store.close()
    for path in write_report(rep, cfg, out, forms):
        print(f"wrote {path}")
    for r in rep.plan_indicators:
        if r.value is not None:
            shown = f"{r.value:.1f}" if r.indicator.unit_zh == "%" else f"{r.value:g}"
            print(f"  {r.indicator.name_zh}: {shown} {r.indicator.unit_zh}  [{r.judgement.text_zh}]")
    for problem in rep.problems:
        print(f"  ! {problem}", file=sys.stderr)
    for c in rep.conflicts:
        print(
            f"  ! 来源冲突 {c.school} {c.field}: 填报 {c.entered:g} / BIM {c.bim:g}（差 {c.difference:+g}），采用 {c.chosen}"
            f" | conflict: entered {c.entered:g} vs BIM {c.bim:g}, using {c.chosen}",
            file=sys.stderr,
        )
    missing = sum(len(s.missing) for s in rep.school_forms)
    if missing:
        print(
            f"  表格缺项 {missing} 个（见各校“附件2”表的缺项）| form fields missing: {missing} (see each school's 附件2)"
        )
    return 0
