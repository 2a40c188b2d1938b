"""The guarded open's damage scan (`twin.ifc_open.unresolved_references`) against a plain
regex implementation written here, on the shared models and on texts that trip a naive scan."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.twin.ifc_variants import SHARED_IFC
from twin.ifc_open import unresolved_references

STRING = re.compile(rb"'[^']*(?:''[^']*)*'")


def _expected(data: bytes) -> set[int]:
    body = STRING.sub(b"''", data)
    defined = {int(n) for n in re.findall(rb"(?m)^\s*#(\d+)\s*=", body)}
    return {int(n) for n in re.findall(rb"#(\d+)", body)} - defined


HEAD = b"ISO-10303-21;\nHEADER;\nFILE_SCHEMA(('IFC4'));\nENDSEC;\nDATA;\n"
TAIL = b"ENDSEC;\nEND-ISO-10303-21;\n"
TEXTS = {
    "sound": b"#1=IFCPROJECT('a',$,'P',$,$,$,$,(#2),#3);\n#2=X();\n#3=Y(#1);\n",
    "hash in a string": b"#1=IFCSPACE('g',$,'Room #5',$,$,$,$,$,$);\n",
    "quote in a string": b"#1=IFCSPACE('g',$,'it''s #7',$,#2,$,$,$,$);\n#2=X();\n",
    "indented and spaced": b"  #1 = IFCWALL(#2);\n#2= X();\n",
    "lost entity": b"#1=IFCWALL(#2,#3);\n#3=X();\n",
    "big id": b"#1=IFCWALL(#9876543210);\n",
}


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_scan_agrees_with_a_plain_regex(tmp_path: Path, name: str) -> None:
    data = HEAD + TEXTS[name] + TAIL
    (path := tmp_path / "m.ifc").write_bytes(data)
    got = unresolved_references(path)
    want = _expected(data)
    assert (got.count if got else 0) == len(want)
    if got:
        assert set(got.ids) <= want and got.line == HEAD.count(b"\n") + 1


@pytest.mark.parametrize("name", ["Duplex_A_20110907.ifc", "AC20-FZK-Haus.ifc"])
def test_shared_models_are_sound_and_a_lost_line_is_found(tmp_path: Path, name: str) -> None:
    data = (SHARED_IFC / name).read_bytes()
    assert unresolved_references(SHARED_IFC / name) is None and not _expected(data)
    lines = data.split(b"\n")
    i = next(i for i, ln in enumerate(lines) if ln.startswith(b"#") and i > len(lines) // 2)
    (path := tmp_path / name).write_bytes(b"\n".join(lines[:i] + lines[i + 1 :]))
    got = unresolved_references(path)
    assert got is not None and set(got.ids) == _expected(path.read_bytes())
