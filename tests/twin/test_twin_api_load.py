"""API start-up and POST /admin/reload with bad IFC files in the twin config: every other campus
keeps being served, each bad file is a structured problem, a broken config is a structured 409."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from api.twin_loader import file_problems, load_from_config
from store.sqlite import SQLiteStore
from tests.twin.ifc_variants import CASES, materialise

ADMIN = "admin-token-ifc-0123456789abcdef"
HEADERS = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def twin_dir(small_campus_dir: Path, tmp_path: Path) -> Path:
    good = sorted(small_campus_dir.glob("*.ifc"))
    bad = materialise(CASES / "not-ifc", tmp_path)
    truncated = materialise(CASES / "truncated-79", tmp_path)
    rc2 = materialise(CASES / "ifc4x3-rc2", tmp_path)
    cfg = tmp_path / "twin.yaml"
    cfg.write_text(
        "campuses:\n"
        f"  - {{id: good, name: 好学校, ifc: [{', '.join(str(p) for p in good)}]}}\n"
        f"  - {{id: mixed, name: 混合, ifc: ['{good[0]}', '{bad}']}}\n"
        f"  - {{id: broken, name: 坏文件, ifc: ['{truncated}', '{rc2}', '{tmp_path / 'missing.ifc'}']}}\n"
        "read_in_child: never\n",  # a unit test starts no process (test_ifc_api_campuses reads in a child)
        encoding="utf-8",
    )
    (tmp_path / "tokens.yaml").write_text(
        f"tokens:\n  - {{name: ops, role: admin, sha256: {hashlib.sha256(ADMIN.encode()).hexdigest()}}}\n",
        encoding="utf-8",
    )
    return tmp_path


@pytest.fixture
def client(twin_dir: Path) -> Iterator[TestClient]:
    settings = ApiSettings.model_validate(
        {
            "twin_config": twin_dir / "twin.yaml",
            "store": {"type": "sqlite", "path": twin_dir / "store.sqlite"},
            "tokens": {"file": twin_dir / "tokens.yaml", "env": None},
        }
    )
    store = SQLiteStore(twin_dir / "store.sqlite")
    with TestClient(create_app(settings, store=store)) as c:
        yield c
    store.close()


def test_start_up_serves_every_campus_and_lists_bad_files(twin_dir: Path, client: TestClient) -> None:
    health = client.get("/api/v1/health").json()
    assert health["campuses"] == 3
    problems = file_problems(load_from_config(twin_dir / "twin.yaml"))
    assert sorted(p.kind or "" for p in problems) == ["missing", "not_ifc", "truncated", "unsupported_schema"]
    assert all(p.file for p in problems)


def test_reload_survives_bad_files_and_answers_structured_on_bad_config(
    twin_dir: Path, client: TestClient
) -> None:
    rooms = client.get("/api/v1/health").json()["rooms"]
    r = client.post("/api/v1/admin/reload", headers=HEADERS)
    assert r.status_code == 200 and r.json()["campuses"] == 3 and r.json()["rooms"] == rooms
    cfg = twin_dir / "twin.yaml"
    shutil.copy(cfg, twin_dir / "twin.good.yaml")
    cfg.write_text("campuses:\n  - {id: x, name: [unclosed\n", encoding="utf-8")
    r = client.post("/api/v1/admin/reload", headers=HEADERS)
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "conflict" and "twin.yaml" in body["detail"] and body["fields"]
    assert client.get("/api/v1/health").json()["rooms"] == rooms  # the previous twin still serves
