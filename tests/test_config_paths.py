"""Config paths: relative ones resolve against the config file's folder, absolute ones stay.

Regression: both loaders once turned every absolute path into None (an absolute bindings
path silently disabled room enrichment, an absolute tokens file locked everyone out)."""

from __future__ import annotations

from pathlib import Path

from api.settings import load_settings
from ingest.config import load_config as load_ingest_config


def test_api_settings_keep_absolute_and_resolve_relative(tmp_path: Path) -> None:
    cfg = tmp_path / "conf" / "api.yaml"
    cfg.parent.mkdir()
    cfg.write_text(
        "twin_config: twin.yaml\n"
        "store: {type: sqlite, path: /abs/store.sqlite}\n"
        "tokens: {file: /abs/tokens.yaml}\n"
        "bindings_export: out/bindings.json\n"
    )
    s = load_settings(cfg)
    assert s.tokens.file == Path("/abs/tokens.yaml")
    assert s.store.path == Path("/abs/store.sqlite")  # type: ignore[union-attr]
    assert s.twin_config == cfg.parent.resolve() / "twin.yaml"
    assert s.bindings_export == cfg.parent.resolve() / "out" / "bindings.json"


def test_ingest_config_keeps_absolute_and_resolves_relative(tmp_path: Path) -> None:
    cfg = tmp_path / "ingest.yaml"
    cfg.write_text(
        "bindings: /abs/bindings.json\nquarantine: {path: q.sqlite}\nstore: {type: sqlite, path: ts.db}\n"
    )
    c = load_ingest_config(cfg)
    assert c.bindings == Path("/abs/bindings.json")
    assert c.quarantine_path == tmp_path.resolve() / "q.sqlite"
    assert c.store.path == tmp_path.resolve() / "ts.db"  # type: ignore[union-attr]
