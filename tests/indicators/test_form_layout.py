"""The forms as printed, from a roster and entries alone: each school's 附件2 its own sheet (names
Excel accepts, distinct even when long names agree), numbers per field (integers, 1 decimal for
%, never "1000.0"), blanks red with their reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import load_workbook

from twin.indicators import load_indicators
from twin.indicators.build import assemble
from twin.indicators.forms import load_forms
from twin.indicators.inputs import (
    Jurisdiction,
    ManualInputs,
    Provenance,
    Roster,
    RosterSchool,
    SchoolInput,
    SchoolValues,
)
from twin.indicators.writers import write_report

LONG = "广西壮族自治区南宁市青秀区第一实验学校（滨湖/凤岭校区）"
PROV = Provenance(entered_by="教务处", entered_at=dt.date(2026, 9, 10), source="2026学年统计报表")


def _report():  # type: ignore[no-untyped-def]
    roster = Roster(
        jurisdiction=Jurisdiction(level="district", name="青秀区", city="南宁市", province="广西壮族自治区"),
        provenance=PROV,
        schools=[
            RosterSchool(id="qx-a", name=LONG + "甲", type="小学", district="青秀区"),
            RosterSchool(id="qx-b", name=LONG + "乙", type="小学", district="青秀区"),
        ],
    )
    values = SchoolValues(
        classes=24, students=1080, teachers=80, bandwidth_mbps=1000.0, digital_textbook_teacher_share=85
    )
    inputs = ManualInputs(
        schools=[SchoolInput(**PROV.model_dump(), school="qx-a", as_of=dt.date(2026, 9, 1), values=values)]
    )
    return assemble(
        [],
        [],
        roster,
        inputs,
        load_indicators(),
        load_forms(),
        period="2026-09-01..2026-12-31",
        year=2026,
        generated_at="-",
    )


def test_each_school_its_own_sheet_with_numbers_per_field(tmp_path: Path) -> None:
    out = tmp_path / "r.xlsx"
    write_report(_report(), load_indicators(), out)
    wb = load_workbook(out)
    forms = [n for n in wb.sheetnames if n.startswith("附件2")]
    assert len(forms) == 2 and len(set(forms)) == 2  # the first 31 characters agree: the id tells them apart
    assert all("/" not in n and len(n) <= 31 for n in forms)
    rows = {r[0].value: r[1] for r in wb[forms[0]].iter_rows(min_row=4)}
    assert rows["班级数"].value == 24 and rows["班级数"].number_format == "0"
    assert (
        rows["学校网络接入带宽（Mbps）"].value == 1000
        and rows["学校网络接入带宽（Mbps）"].number_format == "General"
    )
    share = rows["广西数字教材规模化应用教师比例（%）"]
    assert share.value == 85 and share.number_format == '0.0"%"'
    missing = rows["无线校园是否全覆盖"]
    assert missing.value.startswith("【缺项 missing】") and "wireless_full_coverage" in missing.value
    assert missing.fill.fgColor.rgb.endswith("FDE9E7")


def test_html_writes_numbers_as_the_form_does(tmp_path: Path) -> None:
    (page,) = write_report(_report(), load_indicators(), tmp_path / "r.html")
    text = page.read_text(encoding="utf-8")
    assert ">1000<" in text and "1000.0" not in text and ">85.0%<" in text and ">24<" in text
    assert (
        "<td class=miss>【缺项 missing】<small>未填报：在填报文件中填写 wireless_full_coverage</small>"
        in text
    )
