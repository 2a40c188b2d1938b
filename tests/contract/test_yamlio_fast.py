"""The libyaml path of `contract.yamlio` reads every file as ruamel does: the same values (YAML
1.2 meanings) and the same line and column for every key and item, so errors point where they did."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.yamlio import ConfigError, LineMap, LineSeq, _fast_load, _Unsupported, _yaml, loads_yaml, locate

REPO = Path(__file__).resolve().parents[2]
FILES = sorted(
    p
    for pattern in ("*.yaml", "*.yml")
    for p in REPO.rglob(pattern)
    if ".venv" not in p.parts and "node_modules" not in p.parts
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(b, dict):
        return isinstance(a, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in b)
    if isinstance(b, list):
        return isinstance(a, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(b, float) and math.isnan(b):
        return isinstance(a, float) and math.isnan(a)
    if a is not None and type(a) is type(b) and type(b).__module__.startswith("ruamel"):
        return repr(a) == repr(b)  # both read by ruamel (a tagged scalar has no ==)
    # ruamel's ScalarInt/ScalarFloat are int/float subclasses: compare by the base type
    return a == b and type(a) in type(b).__mro__


def _positions(doc: Any, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], tuple[int, int]]:
    out: dict[tuple[Any, ...], tuple[int, int]] = {}
    if isinstance(doc, dict):
        for k, v in doc.items():
            out[(*path, k)] = locate(doc, [k]) or (0, 0)
            out.update(_positions(v, (*path, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out[(*path, i)] = locate(doc, [i]) or (0, 0)
            out.update(_positions(v, (*path, i)))
    return out


def test_the_project_has_yaml_files_to_compare() -> None:
    assert len(FILES) > 50


@pytest.mark.slow  # ruamel reads every file of the repo: the whole suite's check, not the loop's
@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_project_file_reads_the_same_as_ruamel(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        slow = _yaml().load(text)
    except Exception:  # a case file that is meant to be broken: both paths must refuse it
        with pytest.raises(ConfigError):
            loads_yaml(text, str(path))
        return
    fast = loads_yaml(text, str(path))
    assert _same(fast, slow)
    assert _positions(fast) == _positions(slow)


SCALARS = st.sampled_from(
    ["017", "0o17", "0x1F", "0b101", "1_000", "-017", "+5", "1.5", "1e3", "1.", "-.inf", ".NaN", "2026-09-01",
     "2026-09-01 08:00:00", "2026-09-01T08:00:00+08:00", "08:00", "yes", "no", "on", "off", "~", "null", "",
     "00", "1:30", ".5", "12e03", "True", "FALSE", "'017'", '"08:00"', "中文", "a: b", "- x", "!!str 5",
     "&a 1", "[1, 2]", "{a: 1}", "|\n  text", ">\n  folded"]
)  # fmt: skip


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["k", "t", "时间", "2", "on"]), SCALARS), min_size=1, max_size=6))
def test_any_mapping_of_tricky_scalars_reads_as_ruamel_reads_it(pairs: list[tuple[str, str]]) -> None:
    text = "".join(f"{k}: {v}\n" for k, v in pairs)
    try:
        slow = _yaml().load(text)
    except Exception:
        with pytest.raises(ConfigError):
            loads_yaml(text)
        return
    fast = loads_yaml(text)
    assert _same(fast, slow), text
    assert _positions(fast) == _positions(slow), text


def test_the_fast_path_takes_the_common_files_and_hands_the_rest_to_ruamel() -> None:
    assert isinstance(_fast_load("a: [1, 2]\n"), LineMap)
    assert isinstance(_fast_load("- 1\n"), LineSeq)
    for only_ruamel in ("a: 1\na: 2\n", "a: !custom 1\n", "base: &b {x: 1}\nc:\n  <<: *b\n"):
        with pytest.raises(_Unsupported):
            _fast_load(only_ruamel)
