"""The server's twin load: one parse per IFC file when its plans are not cached yet, a lazy
read and the cached plans after; campuses built from one model keep separate identities."""

from __future__ import annotations

from pathlib import Path

import pytest

import twin.ifc_open
from tests.twin.ifc_variants import SHARED_IFC
from twin.config import load_twin
from twin.identity import qualify_shared_ids

DUPLEX = SHARED_IFC / "Duplex_A_20110907.ifc"


def _config(tmp: Path, campuses: dict[str, list[Path]]) -> Path:
    lines = ["campuses:"] + [
        f"  - {{id: {cid}, name: {cid}, ifc: [{', '.join(repr(str(p)) for p in files)}]}}"
        for cid, files in campuses.items()
    ]
    cfg = tmp / "twin.yaml"
    cfg.write_text(
        "\n".join(lines) + f"\ncache_dir: {tmp / 'cache'}\nread_in_child: never\n", encoding="utf-8"
    )
    return cfg


def test_cold_load_parses_each_file_once_and_warm_reads_lazily(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opens: list[bool] = []
    real = twin.ifc_open.bare_open

    def counting(path: str | Path, *, lazy: bool = False) -> object:
        opens.append(lazy)
        return real(path, lazy=lazy)

    monkeypatch.setattr(twin.ifc_open, "bare_open", counting)
    cfg = _config(tmp_path, {"a": [DUPLEX]})
    (cold,) = load_twin(cfg, plans=True)
    assert opens == [False]  # one full parse gave the model and the plans
    assert all(s.footprint for s in cold.spaces())
    opens.clear()
    (warm,) = load_twin(cfg, plans=True)
    assert opens == [True]  # plans from the cache, the model read lazily
    assert [s.footprint for s in warm.spaces()] == [s.footprint for s in cold.spaces()]


def test_two_campuses_from_one_model_keep_their_own_ids(tmp_path: Path) -> None:
    campuses = load_twin(_config(tmp_path, {"north": [DUPLEX], "south": [DUPLEX]}))
    assert qualify_shared_ids(campuses) > 0
    north, south = campuses
    for c in campuses:
        for b in c.buildings:
            assert b.global_id == f"{c.id}:{b.ifc_id}"
            for st in b.storeys:
                assert st.building_id == b.global_id
                assert all(
                    s.storey_id == st.global_id and s.global_id.startswith(f"{c.id}:") for s in st.spaces
                )
    assert {s.ifc_id for s in north.spaces()} == {s.ifc_id for s in south.spaces()}
    assert not {s.global_id for s in north.spaces()} & {s.global_id for s in south.spaces()}
    # bindings keep naming the IFC GlobalId (what telemetry and write-back use)
    assert qualify_shared_ids(campuses) == 0  # idempotent
    assert not [p for c in campuses for p in c.problems if "GlobalId" in p.message]
