"""Quoted wordings checked against the plain-text copies of their documents (../shared/plans/).

A wording must stand on its cited lines as a character sequence (whitespace ignored: the PDF
extraction breaks lines and puts spaces inside words). Where the extraction also scrambled the
characters within a line, the citation carries `printed`: the fragments exactly as they stand,
in order, and the restored wording must consist of exactly those characters — one dropped or
added character fails. Used by the tests for the shipped tables and by `campus-twin report
--plan FILE --plans-dir DIR` for a region's table added as data.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from twin.indicators.schema import Citation, IndicatorsFile

_WS = re.compile(r"\s+")


def cited_text(lines: list[str], span: str) -> str:
    """The cited lines ("12" or "12-15", 1-based) joined, whitespace removed."""
    a, _, b = span.partition("-")
    return _WS.sub("", "".join(lines[int(a) - 1 : int(b or a)]))


def citation_problem(wording: str, printed: list[str] | None, text: str) -> str | None:
    """Why `wording` is not what the cited `text` says, or None."""
    w = _WS.sub("", wording)
    if printed is None:
        return (
            None
            if w in text
            else f"“{wording}”不在所引行中 | {wording!r} is not on the cited lines as written"
        )
    at = 0
    for frag in printed:
        f = _WS.sub("", frag)
        i = text.find(f, at)
        if i < 0:
            return f"片段“{frag}”不在所引行中（或顺序不对） | fragment {frag!r} is not on the cited lines in order"
        at = i + len(f)
    got, want = Counter(w), Counter("".join(_WS.sub("", f) for f in printed))
    if got != want:
        extra, lost = "".join((got - want).elements()), "".join((want - got).elements())
        return f"“{wording}”与原文字符不一致：多“{extra}”，少“{lost}” | not the printed characters: extra {extra!r}, missing {lost!r}"
    return None


def citations(cfg: IndicatorsFile) -> Iterator[tuple[str, Citation]]:
    """Every quotation of `cfg`: plan indicators, their baselines, operational figures."""
    for ind in cfg.plan_indicators:
        yield ind.id, ind.citation
        if ind.baseline is not None and ind.baseline.citation is not None:
            yield f"{ind.id}.baseline", ind.baseline.citation
    for op in cfg.operational:
        if op.citation is not None:
            yield op.id, op.citation


def check_citations(
    cfg: IndicatorsFile, plans_dir: Path, only: set[str] | None = None
) -> list[tuple[str, str]]:
    """(quotation, "中文 | English" problem) for every quotation (of the indicators in `only`,
    when given) that is not what its document in `plans_dir` says."""
    problems = []
    texts: dict[str, list[str]] = {}
    for name, c in citations(cfg):
        if only is not None and name.split(".")[0] not in only:
            continue
        file = cfg.documents[c.doc].file
        if file not in texts:
            path = plans_dir / file
            if not path.is_file():
                problems.append((name, f"找不到文档 {path} | document not found: {path}"))
                texts[file] = []
                continue
            texts[file] = path.read_text(encoding="utf-8").splitlines()
        if not texts[file]:
            continue
        why = citation_problem(c.wording, c.printed, cited_text(texts[file], c.lines))
        if why:
            problems.append((f"{name}（{file} l.{c.lines}）", why))
    return problems
