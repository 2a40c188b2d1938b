"""Report writers: XLSX (for submission), CSV (one file per table), JSON (with traces), HTML.

The format follows the output file's extension. XLSX and HTML render the same `Table`s;
JSON carries the full report including, for every figure, the rooms/devices that made it.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import html
import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from twin.indicators.build import DistrictReport
from twin.indicators.forms import FormsFile, load_forms
from twin.indicators.schema import IndicatorsFile
from twin.indicators.tables import MISSING, Cell, Column, Table, build_tables

FORMATS = (".xlsx", ".csv", ".json", ".html")


def _default(o: Any) -> Any:
    if isinstance(o, BaseModel):
        return o.model_dump(mode="json")
    if isinstance(o, dt.date):
        return o.isoformat()
    if isinstance(o, enum.Enum):
        return o.value
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def report_json(rep: DistrictReport, cfg: IndicatorsFile) -> dict[str, Any]:
    """The whole report (every figure with its trace) plus the cited documents."""
    d: dict[str, Any] = json.loads(json.dumps(asdict(rep), default=_default, ensure_ascii=False))
    d["documents"] = {k: v.model_dump(mode="json") for k, v in cfg.documents.items()}
    for r, src in zip(d["school_forms"], rep.school_forms, strict=True):
        r["values"] = {f.id: f.value for f in src.fields}
    return d


def write_json(rep: DistrictReport, cfg: IndicatorsFile, path: Path) -> list[Path]:
    path.write_text(json.dumps(report_json(rep, cfg), ensure_ascii=False, indent=2), encoding="utf-8")
    return [path]


def _cell(col: Column, v: Any) -> tuple[Any, str, str | None]:
    """(value, format, why missing) of one cell: a `Cell` carries its own format."""
    if isinstance(v, Cell):
        return v.value, v.fmt, v.missing
    return v, col.fmt, None


def _plain(col: Column, v: Any) -> str:
    """Text of a cell, per format: integers without ".0", 1 decimal for percentages."""
    value, fmt, why = _cell(col, v)
    if value is None:
        return f"{MISSING} {why}" if why else ""
    if isinstance(value, bool) or fmt == "bool":
        return "是" if value else "否"
    if isinstance(value, str):
        return value
    if fmt == "pct":
        return f"{100 * value:.1f}%"
    if fmt == "pct100":
        return f"{value:.1f}%"
    if fmt == "int" or (isinstance(value, int | float) and float(value).is_integer() and fmt == "num"):
        return f"{round(value)}"
    if fmt == "num":
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def write_csv(tables: list[Table], path: Path) -> list[Path]:
    """The indicator table to `path`, every other table beside it as `<stem>-<table>.csv`
    (UTF-8 with BOM so Excel opens the Chinese headers correctly)."""
    out = []
    for i, t in enumerate(tables):
        p = path if i == 0 else path.with_name(f"{path.stem}-{t.key}{path.suffix}")
        with p.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([f"{c.zh} {c.en}" for c in t.columns])
            for row in t.rows:
                w.writerow([_plain(c, v).replace("\n", " ") for c, v in zip(t.columns, row, strict=True)])
        out.append(p)
    return out


_XLSX_FMT = {"int": "0", "num": "General", "pct": "0.0%", "pct100": '0.0"%"'}


def write_xlsx(tables: list[Table], path: Path, title: str) -> list[Path]:
    """One sheet per table; tables naming the same `sheet` (a form's parts) stacked on one,
    each school's form on its own sheet, vertical as printed, set up for A4 printing."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    head_font = Font(bold=True, color="FFFFFF")
    head_fill = PatternFill("solid", fgColor="1F4E78")
    thin = Side(style="thin", color="BFBFBF")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="top")
    missing_fill = PatternFill("solid", fgColor="FDE9E7")
    sheets: dict[str, Any] = {}
    for t in tables:
        name = re.sub(r"[\[\]:*?/\\]", "_", t.sheet or t.title_zh)[:31]  # characters Excel refuses
        ws = sheets.get(name)
        first = ws is None
        if ws is None:
            ws = sheets[name] = wb.create_sheet(name)
        else:
            ws.append([])
        ws.append([f"{t.title_zh} {t.title_en}" + (f" — {title}" if first else "")])
        ws.cell(row=ws.max_row, column=1).font = Font(bold=True, size=13)
        if t.note:
            ws.append([t.note])
            ws.cell(row=ws.max_row, column=1).alignment = Alignment(wrap_text=False, vertical="top")
        ws.append([c.header for c in t.columns])
        head = ws.max_row
        for j, c in enumerate(t.columns, start=1):
            cell = ws.cell(row=head, column=j)
            cell.font, cell.fill, cell.border = head_font, head_fill, border
            cell.alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")
            letter = get_column_letter(j)
            ws.column_dimensions[letter].width = max(ws.column_dimensions[letter].width or 0, c.width)
        ws.row_dimensions[head].height = 32
        for row in t.rows:
            vals = []
            for c, v in zip(t.columns, row, strict=True):
                value, fmt, why = _cell(c, v)
                if value is None and why:
                    vals.append(f"{MISSING} {why}")
                elif isinstance(value, bool) or (fmt == "bool" and value is not None):
                    vals.append("是" if value else "否")
                else:
                    vals.append(value)
            ws.append(vals)
            r = ws.max_row
            for j, c in enumerate(t.columns, start=1):
                cell = ws.cell(row=r, column=j)
                cell.border, cell.alignment = border, wrap
                value, fmt, why = _cell(c, row[j - 1])
                if value is None and why:
                    cell.fill = missing_fill
                elif fmt in _XLSX_FMT and isinstance(value, int | float) and not isinstance(value, bool):
                    cell.number_format = _XLSX_FMT[fmt]
        if not t.rows:
            ws.append(["无 none"])
        if first and not t.page:
            ws.freeze_panes = ws.cell(row=head + 1, column=2).coordinate
            ws.print_title_rows = f"{head}:{head}"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.orientation = "portrait" if t.page else "landscape"
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
    wb.save(path)
    return [path]


_CSS = """*{box-sizing:border-box}
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:0 auto;padding:16px;
max-width:1240px;color:#222;font-size:14px;line-height:1.45}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;margin:1.6em 0 .3em}
.en{color:#666;font-size:.85em;font-weight:normal}.note{margin:.2em 0 .5em;color:#444}
table{border-collapse:collapse;width:100%;table-layout:fixed;font-size:.9em}
th{background:#1f4e78;color:#fff;padding:.35em;white-space:pre-line;font-weight:600;vertical-align:bottom;
overflow-wrap:anywhere;font-size:.92em}
td{border:1px solid #ccc;padding:.3em .45em;white-space:pre-line;vertical-align:top;overflow-wrap:anywhere}
td.n{text-align:right;white-space:nowrap}td.miss{background:#fde9e7;color:#a61b1b}
td.miss small{display:block;color:#7a3b3b;white-space:normal}
tr.no td{background:#fdf3e7}table.form{max-width:960px}table.form td:first-child{font-weight:600}
section.page{break-before:page}
@page{size:A4;margin:12mm}
@media print{body{max-width:none;padding:0;font-size:10px}h2{break-after:avoid}tr{break-inside:avoid}}"""


def _widths(t: Table) -> str:
    total = sum(c.width for c in t.columns) or 1
    return (
        "<colgroup>"
        + "".join(f"<col style='width:{100 * c.width / total:.1f}%'>" for c in t.columns)
        + "</colgroup>"
    )


def render_html(tables: list[Table], title: str, subtitle: str) -> str:
    """One self-contained page (inline CSS, no scripts) the API can serve as is: fits 1280 px
    (fixed layout, every column wraps), prints on A4, each form on its own printed page."""
    e = html.escape
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1><p class='en'>{e(subtitle)}</p>",
    ]
    for t in tables:
        vertical = t.page or t.columns[0].zh == "栏目"
        parts.append(f"<section{' class=page' if t.page else ''}>")
        parts.append(f"<h2 id='{e(t.key)}'>{e(t.title_zh)} <span class='en'>{e(t.title_en)}</span></h2>")
        if t.note:
            parts.append(f"<p class='note'>{e(t.note)}</p>")
        parts.append(f"<table{' class=form' if vertical else ''}>{_widths(t)}")
        parts.append("<tr>" + "".join(f"<th>{e(c.header)}</th>" for c in t.columns) + "</tr>")
        for row in t.rows:
            bad = any(c.fmt == "bool" and v is False for c, v in zip(t.columns, row, strict=True))
            cells = []
            for c, v in zip(t.columns, row, strict=True):
                value, fmt, why = _cell(c, v)
                if value is None and why:
                    cells.append(f"<td class=miss>{e(MISSING)}<small>{e(why)}</small></td>")
                    continue
                num = fmt in ("int", "num", "pct", "pct100") and not isinstance(value, str)
                cells.append(f"<td{' class=n' if num else ''}>{e(_plain(c, v))}</td>")
            parts.append(f"<tr{' class=no' if bad else ''}>{''.join(cells)}</tr>")
        if not t.rows:
            parts.append(f"<tr><td colspan={len(t.columns)}>无 none</td></tr>")
        parts.append("</table></section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    rep: DistrictReport, cfg: IndicatorsFile, path: str | Path, forms: FormsFile | None = None
) -> list[Path]:
    """Write `rep` in the format of `path`'s extension; returns the files written."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in FORMATS:
        raise ValueError(f"unknown report format {p.suffix!r}: use one of {', '.join(FORMATS)}")
    if ext == ".json":
        return write_json(rep, cfg, p)
    tables = build_tables(rep, cfg, forms or load_forms())
    title = f"教育信息化指标报告 · {rep.jurisdiction.name} · {rep.period}"
    if ext == ".csv":
        return write_csv(tables, p)
    if ext == ".xlsx":
        return write_xlsx(tables, p, title)
    sub = f"{rep.plan} · 生成于 {rep.generated_at} · Indicator report of {rep.jurisdiction.name}"
    p.write_text(render_html(tables, title, sub), encoding="utf-8")
    return [p]
