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
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from twin.indicators.build import DistrictReport
from twin.indicators.forms import FormsFile, load_forms
from twin.indicators.schema import IndicatorsFile
from twin.indicators.tables import MISSING, Column, Table, build_tables

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


def _plain(col: Column, v: Any) -> str:
    if v is None:
        return ""
    if col.fmt == "bool":
        return "是 yes" if v else "否 no"
    if col.fmt == "pct":
        return f"{100 * v:.1f}%"
    if col.fmt == "num":
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return str(v)


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


_XLSX_FMT = {"int": "0", "num": "0.00", "pct": "0.0%"}


def write_xlsx(tables: list[Table], path: Path, title: str) -> list[Path]:
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
    for t in tables:
        ws = wb.create_sheet(t.title_zh[:31])
        ws.append([f"{t.title_zh} {t.title_en} — {title}"])
        ws["A1"].font = Font(bold=True, size=13)
        ws.append([c.header for c in t.columns])
        for j, c in enumerate(t.columns, start=1):
            cell = ws.cell(row=2, column=j)
            cell.font, cell.fill, cell.border = head_font, head_fill, border
            cell.alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")
            ws.column_dimensions[get_column_letter(j)].width = c.width
        ws.row_dimensions[2].height = 32
        for row in t.rows:
            ws.append(
                [
                    ("是" if v else "否") if c.fmt == "bool" and v is not None else v
                    for c, v in zip(t.columns, row, strict=True)
                ]
            )
            r = ws.max_row
            for j, c in enumerate(t.columns, start=1):
                cell = ws.cell(row=r, column=j)
                cell.border, cell.alignment = border, wrap
                if cell.value == MISSING:
                    cell.fill = missing_fill
                if c.fmt in _XLSX_FMT:
                    cell.number_format = _XLSX_FMT[c.fmt]
        ws.freeze_panes = "B3"
        ws.auto_filter.ref = f"A2:{get_column_letter(len(t.columns))}{max(ws.max_row, 2)}"
        ws.print_title_rows = "2:2"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.fitToWidth = 1
    wb.save(path)
    return [path]


_CSS = """body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em}table{border-collapse:collapse;font-size:.9em}
th{background:#1f4e78;color:#fff;padding:.4em;white-space:pre-line}
td{border:1px solid #ccc;padding:.3em .5em;white-space:pre-line;vertical-align:top}
td.n{text-align:right}tr.no td{background:#fde9e7}.en{color:#666;font-size:.85em}"""


def render_html(tables: list[Table], title: str, subtitle: str) -> str:
    """One self-contained page (inline CSS, no scripts) the API can serve as is."""
    e = html.escape
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1><p class='en'>{e(subtitle)}</p>",
    ]
    for t in tables:
        parts.append(
            f"<h2 id='{e(t.key)}'>{e(t.title_zh)} <span class='en'>{e(t.title_en)}</span></h2><table>"
        )
        parts.append("<tr>" + "".join(f"<th>{e(c.header)}</th>" for c in t.columns) + "</tr>")
        for row in t.rows:
            bad = any(c.fmt == "bool" and v is False for c, v in zip(t.columns, row, strict=True))
            cells = "".join(
                f"<td{' class=n' if c.fmt in ('int', 'num', 'pct') else ''}>{e(_plain(c, v))}</td>"
                for c, v in zip(t.columns, row, strict=True)
            )
            parts.append(f"<tr{' class=no' if bad else ''}>{cells}</tr>")
        parts.append("</table>")
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
    title = f"教育信息化指标报告 Indicator report · {rep.jurisdiction.name} · {rep.period}"
    if ext == ".csv":
        return write_csv(tables, p)
    if ext == ".xlsx":
        return write_xlsx(tables, p, title)
    p.write_text(render_html(tables, title, f"{rep.plan} · generated {rep.generated_at}"), encoding="utf-8")
    return [p]
