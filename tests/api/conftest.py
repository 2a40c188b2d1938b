"""Shared API fixtures: the generated demo campus over a real SQLite store, tokens, a client."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.state import LoadedTwin
from api.twin_loader import load_from_config
from store.sqlite import SQLiteStore
from tests.api.api_seed import ADMIN_TOKEN, VIEWER_TOKEN, FixedClock, generate_twin, make_settings, seed_store


@pytest.fixture(scope="session")
def twin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("twin")
    generate_twin(d)
    sha = hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()
    (d / "tokens.yaml").write_text(
        "tokens:\n"
        f"  - {{name: desk, role: viewer, token: {VIEWER_TOKEN}}}\n"
        f"  - {{name: ops, role: admin, sha256: {sha}}}\n",
        encoding="utf-8",
    )
    return d


@pytest.fixture(scope="session")
def loaded(twin_dir: Path) -> LoadedTwin:
    return load_from_config(twin_dir / "twin.yaml")


@pytest.fixture(scope="session")
def sqlite_store(twin_dir: Path, loaded: LoadedTwin) -> Iterator[SQLiteStore]:
    store = SQLiteStore(twin_dir / "store.sqlite")
    seed_store(store, loaded.campuses[0])
    yield store
    store.close()


@pytest.fixture(scope="session")
def client(twin_dir: Path, sqlite_store: SQLiteStore) -> Iterator[TestClient]:
    app = create_app(make_settings(twin_dir), store=sqlite_store, clock=FixedClock())
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def viewer() -> dict[str, str]:
    return {"Authorization": f"Bearer {VIEWER_TOKEN}"}


@pytest.fixture(scope="session")
def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
