"""Every quoted wording stands on its cited lines as a character sequence.

The plain-text copies are in ../shared/plans/. Whitespace is ignored (the PDF extraction of 004
breaks lines and puts spaces inside words). Where the extraction also scrambled characters
within a line, the citation carries `printed`: the fragments exactly as they stand, in order,
and the restored `wording` must use exactly those characters — one dropped or added character
(新建、改扩建 → 新改扩建, 中小学校 → 中小学) fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.indicators import load_indicators
from twin.indicators.citations import check_citations, citation_problem, citations, cited_text
from twin.indicators.forms import load_forms
from twin.indicators.schema import Citation

PLANS = Path(__file__).resolve().parents[2].parent / "shared" / "plans"


def _lines(file: str, lines: str) -> str:
    return cited_text((PLANS / file).read_text(encoding="utf-8").splitlines(), lines)


def _citations() -> list[tuple[str, str, Citation]]:
    cfg = load_indicators()
    return [(name, cfg.documents[c.doc].file, c) for name, c in citations(cfg)]


@pytest.mark.parametrize("name,file,c", _citations(), ids=lambda x: x if isinstance(x, str) else "")
def test_wording_is_the_cited_character_sequence(name: str, file: str, c: Citation) -> None:
    assert citation_problem(c.wording, c.printed, _lines(file, c.lines)) is None, name


def test_a_baseline_wording_is_its_indicator_wording_or_quoted_itself() -> None:
    for ind in load_indicators().plan_indicators:
        b = ind.baseline
        if b is not None and b.wording is not None and b.citation is None:
            assert b.wording == ind.citation.wording, ind.id  # quoted by the indicator's own citation


def test_the_check_catches_the_slips_it_was_written_for() -> None:
    """The wordings of the previous release, each one character off."""
    row1 = _lines("004_ff3da47212e0ef80.txt", "301")
    printed1 = ["小、新改扩学校智校达中学建建慧园标率"]
    assert citation_problem("中小学新建、改扩建学校智慧校园达标率", printed1, row1) is None
    assert citation_problem("中小学新改扩建学校智慧校园达标率", printed1, row1) is not None
    wireless = _lines("004_ff3da47212e0ef80.txt", "46-48")
    printed = ["90%小的学以上中了署校部无线网络"]
    assert citation_problem("90%以上的中小学部署了无线网络", printed, wireless) is not None
    assert citation_problem("90%以上的中小学全覆盖了无线网络", printed, wireless) is not None
    # the old test (each character somewhere on the lines) let both through
    assert all(ch in wireless for ch in "90%以上的中小学部署了无线网络")


def test_every_form_label_is_on_its_lines() -> None:
    forms = load_forms()
    file = load_indicators().documents[forms.doc].file
    for f in [*forms.school_form.fields, *forms.district_form.columns, *forms.district_form.fields]:
        text = _lines(file, f.lines)
        for part in f.label.split(" "):
            assert citation_problem(part, None, text) is None, f"{f.id}: {part!r} not on l.{f.lines}"


def test_check_citations_names_each_slip(tmp_path: Path) -> None:
    cfg = load_indicators()
    assert check_citations(cfg, PLANS) == []
    bad = cfg.model_copy(
        update={
            "plan_indicators": [
                i.model_copy(
                    update={
                        "citation": i.citation.model_copy(
                            update={"wording": "中小学新改扩建学校智慧校园达标率"}
                        )
                    }
                )
                if i.id == "new-school-smart-campus-rate"
                else i
                for i in cfg.plan_indicators
            ]
        }
    )
    ((name, problem),) = check_citations(bad, PLANS)
    assert name == "new-school-smart-campus-rate（004_ff3da47212e0ef80.txt l.301）" and "少“、建”" in problem
    assert check_citations(cfg, tmp_path)[0][1].startswith("找不到文档")
